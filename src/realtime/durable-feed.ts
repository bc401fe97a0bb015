import type { DatabasePool } from "slonik";
import { framesForEvents } from "../delivery/event-frames.js";
import { listEvents } from "../events/log.js";
import type { DurableEvent } from "../events/model.js";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Semaphore } from "../shared/semaphore.js";
import { ephemeralFrame } from "./frames.js";
import { REPLAY_PAGE_EVENTS as PAGE, REPLAY_CHUNK_EVENTS as REPLAY_CHUNK, type ReplayStarts } from "./replay-starts.js";

/** The first page of a replay, read with its resume point: its events, the frames of its first chunk, the newest cursor announced before the read. */
interface FirstPage {
  events: DurableEvent[];
  frames: { cursor: number; frame: ServerFrame | null }[];
  announcedBefore: number;
}

/** What the feed reads with, shared by every stream of the instance. */
export interface FeedDeps {
  pool: DatabasePool;
  /** Bounds how much of the database pool replays may hold. */
  replaySlots: Semaphore;
  /** Reads the resume point and first page of streams opening together in one statement (in a replay slot). */
  replayStarts: ReplayStarts;
  /** Writes the session's pending ack now (src/realtime/acks.ts). */
  flushAck?(sessionId: string): Promise<void>;
}

/** The stream the feed feeds (src/realtime/stream.ts): no closures of its own per stream. */
export interface FeedTarget {
  readonly userId: string;
  readonly sessionId: string;
  /** The stream's device: durable events addressed to another device of the account (mls_welcome) pass it by. */
  readonly deviceId: number;
  /** Queues a frame for the client. */
  queueFrame(frame: ServerFrame): void;
  /** Resolves once the stream's buffer is under half its budgets (or the stream ended). */
  bufferSpace(): Promise<void>;
  /** A database read failed: the stream ends. */
  failUnexpected(err: unknown): void;
}

/**
 * One stream's durable events, each delivered once, strictly in cursor order. The stream
 * registers for live events before the replay reads the backlog from the database; while
 * the feed reads the database (the replay, or filling a hole later) it only notes the
 * newest live cursor announced, and keeps reading until it has delivered that one too, at
 * the client's pace. Then it switches to live delivery, with nothing between the two (no
 * await), so no event falls into the seam. Per-user cursors are dense and notices arrive in
 * commit order, so a live event that is not the next cursor means notices were missed, and
 * the feed reads the database again.
 */
export class DurableFeed {
  private delivered = 0;
  /** Highest cursor announced live. */
  private newestSeen = 0;
  /** True while durable events come from the database (replay or hole filling), not from live notices. */
  private readingDatabase = true;
  /** Notices may have been lost while reading the database: read once more before going live. */
  private rereadRequested = false;
  /** The stream ended: nothing more is read or delivered. */
  private stopped = false;
  /**
   * Aborted by stop(), so that a query of the read in progress still waiting for a replay slot
   * is dropped, not run. Made for each read (the replay, a hole filling) and dropped when it
   * goes live: an AbortSignal costs ~0.8 KB of heap, and an idle stream reads nothing.
   */
  private reading: AbortController | undefined;

  constructor(
    private readonly deps: FeedDeps,
    private readonly target: FeedTarget,
  ) {}

  /**
   * Replays everything after the resume cursor, then sends caught_up and goes live.
   * `resumeCursor` is the client's (at most INT8_MAX), compared exactly with the stored bounds.
   */
  async replay(resumeCursor: bigint | undefined): Promise<void> {
    const { deps, target } = this;
    // Without a cursor the stream resumes from the session's stored ack: write a pending one first.
    if (resumeCursor === undefined) await deps.flushAck?.(target.sessionId);
    const announcedBefore = this.newestSeen;
    const bounds = await deps.replayStarts.start({ userId: target.userId, sessionId: target.sessionId, afterCursor: resumeCursor ?? null }, this.readSignal());
    if (bounds === undefined || this.stopped) return;
    const requested = resumeCursor ?? BigInt(bounds.acked);
    let resyncRequired = false;
    // Exact whenever it is kept: at most bounds.last, a stored cursor.
    const start = requested > bounds.last ? bounds.last : Number(requested);
    this.delivered = start;
    if (requested > bounds.last) {
      // A cursor from the future (e.g. the server's database was restored): start over from now.
      resyncRequired = true;
    } else if (bounds.last > start && (bounds.oldest === null || bounds.oldest > start + 1)) {
      // Events after the cursor were pruned by retention.
      resyncRequired = true;
      this.delivered = (bounds.oldest ?? bounds.last + 1) - 1;
    }
    // The first page came with the bounds: what listEvents(delivered) reads in the same snapshot (events after a
    // future cursor: none; after a pruned one: from the oldest kept). Nothing after the head: no read at all.
    const first = { events: bounds.events, frames: bounds.firstFrames, announcedBefore };
    await this.readDatabase(() => target.queueFrame(ephemeralFrame({ case: "caughtUp", value: { cursor: BigInt(this.delivered), resyncRequired } })), first);
  }

  /** The stream ended: the read in progress stops, and nothing more is read. */
  stop(): void {
    this.stopped = true;
    this.reading?.abort();
  }

  /** A live durable frame. */
  live(frame: ServerFrame): void {
    const cursor = Number(frame.cursor);
    if (cursor > this.newestSeen) this.newestSeen = cursor;
    if (this.readingDatabase || cursor <= this.delivered) return;
    if (cursor === this.delivered + 1) this.emit(cursor, frame);
    else this.fillFromDatabase();
  }

  /** Notices may have been missed (the bus reconnected): read the database again. */
  resync(): void {
    if (this.readingDatabase) this.rereadRequested = true;
    else this.fillFromDatabase();
  }

  /** Live notices were missed (a cursor skipped, or the bus reconnected): read what lies between from the database. */
  private fillFromDatabase(): void {
    this.readingDatabase = true;
    this.readDatabase().catch((err: unknown) => this.target.failUnexpected(err));
  }

  /**
   * Delivers from the database, at the client's pace, until everything announced live has
   * been delivered; then runs `done` and switches to live delivery in the same tick.
   */
  private async readDatabase(done?: () => void, first?: FirstPage): Promise<void> {
    const { deps, target } = this;
    for (;;) {
      // The first page may have been read already (with the replay's start), before a reread could be asked for.
      if (!first) this.rereadRequested = false;
      const announcedBefore = first ? first.announcedBefore : this.newestSeen;
      const page = first ? first.events : await this.query(() => listEvents(deps.pool, target.userId, this.delivered, PAGE));
      // The first chunk's frames came loaded with the first page.
      let loaded = first?.frames;
      first = undefined;
      if (page === undefined) return;
      for (let at = 0; at < page.length; at += REPLAY_CHUNK) {
        // Only a client that took its frames gets more loaded: a stalled stream holds one chunk at most.
        await target.bufferSpace();
        const preloaded = loaded;
        loaded = undefined;
        const frames = preloaded ?? (await this.query(() => framesForEvents(deps.pool, page.slice(at, at + REPLAY_CHUNK))));
        if (frames === undefined) return;
        for (const { cursor, frame } of frames) {
          await target.bufferSpace();
          if (this.stopped) return;
          if (cursor > this.delivered) this.emit(cursor, frame);
        }
      }
      if (this.stopped) return;
      // Announced while we read, so possibly committed after the read began: read again.
      const announcedMeanwhile = this.newestSeen > this.delivered && this.newestSeen > announcedBefore;
      if (page.length < PAGE && !announcedMeanwhile && !this.rereadRequested) break;
    }
    done?.();
    this.readingDatabase = false;
    this.reading = undefined;
  }

  /**
   * Runs one replay query in a shared slot, unless the stream ends first (then undefined:
   * a stream that went away while waiting costs the database nothing).
   */
  private async query<T>(run: () => Promise<T>): Promise<T | undefined> {
    if (this.stopped) return undefined;
    try {
      const result = await this.deps.replaySlots.run(run, this.readSignal());
      return this.stopped ? undefined : result;
    } catch (error) {
      if (this.stopped) return undefined;
      throw error;
    }
  }

  /** The signal of the read in progress (aborted already once the stream ended). */
  private readSignal(): AbortSignal {
    if (!this.reading) {
      this.reading = new AbortController();
      if (this.stopped) this.reading.abort();
    }
    return this.reading.signal;
  }

  private emit(cursor: number, frame: ServerFrame | null): void {
    this.delivered = cursor;
    if (frame && frame.event.case !== undefined && forThisDevice(frame, this.target.deviceId)) this.target.queueFrame(frame);
  }
}

/** Whether a durable frame is for the stream's device: mls_welcome and key_packages_low only reach the device they name. */
function forThisDevice(frame: ServerFrame, deviceId: number): boolean {
  const event = frame.event;
  if (event.case === "mlsWelcome" || event.case === "keyPackagesLow") return event.value.deviceId === deviceId;
  return true;
}
