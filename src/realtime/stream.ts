import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { listEvents, resumePoint } from "../events/log.js";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Caller } from "../identity/tokens.js";
import { DeadlineExceededError, ResourceExhaustedError, UnavailableError } from "../shared/errors.js";
import type { Semaphore } from "../shared/semaphore.js";
import { framesForEvents } from "../delivery/event-frames.js";
import { ephemeralFrame, heartbeatFrame } from "./frames.js";
import type { Hub, Subscriber } from "./hub.js";
import { StreamBuffer, type BufferBudget } from "./stream-buffer.js";

/** Events read per replay query. */
const PAGE = 500;
/** Events whose messages are loaded at once: a replay holds at most this many loaded frames beyond its buffer. */
const REPLAY_CHUNK = 16;
/** Budgets: past either, the stream is ended (src/realtime/stream-buffer.ts). */
export interface StreamSettings extends BufferBudget {
  heartbeatIntervalMs: number;
  /** End the stream when the client sent nothing for this long (bidi streams only). */
  clientIdleTimeoutMs: number | undefined;
  /** After the stream failed, how long the client has to take its last frames before the transport is reset. */
  drainGraceMs: number;
}

export interface StreamDeps {
  pool: DatabasePool;
  hub: Hub;
  log: Logger;
  onOpen(userId: string): void;
  onClose(userId: string): void;
  /** Ephemeral frames a client needs once caught up (who of its peers is online now). */
  snapshot?(userId: string): Promise<ServerFrame[]>;
  /** Cuts the call off at the transport (a client that stopped reading never sees the final status otherwise). */
  resetTransport?(reason: Error): void;
  /** Bytes written to the transport that the client has not taken yet. */
  transportBacklog?(): number;
  /** Shared by every stream of the instance: bounds how much of the database pool replays may hold. */
  replaySlots: Semaphore;
  /** Writes the session's pending ack now (src/realtime/acks.ts). */
  flushAck?(sessionId: string): Promise<void>;
}

/** Where an attached stream's frames go (push mode). */
export interface FrameSink {
  /** Takes one frame; false when the transport is full (the stream then waits for resume()). */
  write(frame: ServerFrame): boolean;
  /** The stream ended: normally (no error) or with its status. */
  end(error: Error | undefined): void;
}

/**
 * One client's event stream. Durable events are delivered strictly in cursor order, each
 * once. The stream registers for live events before it replays the backlog from the
 * database; while it reads the database (the replay, or filling a hole later) it only
 * notes the newest live cursor announced, and keeps reading until it has delivered that
 * one too, at the client's pace. Then it switches to live delivery, with nothing between
 * the two (no await), so no event falls into the seam. Per-user cursors are dense and
 * notices arrive in commit order, so a live event that is not the next cursor means
 * notices were missed, and the stream reads the database again.
 */
export class EventStream implements Subscriber {
  readonly userId: string;
  readonly sessionId: string;
  private readonly buffer: StreamBuffer;
  /** Aborted when the stream ends: queued replay queries are dropped, not run. */
  private readonly gone = new AbortController();
  private delivered = 0;
  /** Highest cursor announced live. */
  private newestSeen = 0;
  /** True while durable events come from the database (replay or hole filling), not from live notices. */
  private readingDatabase = true;
  /** Notices may have been lost while reading the database: read once more before going live. */
  private rereadRequested = false;
  private ended: { error?: Error } | undefined;
  private opened = false;
  private detached = false;
  private wake: (() => void) | undefined;
  /** Push mode (attach): where frames go, and whether it asked to wait for its transport to drain. */
  private sink: FrameSink | undefined;
  private sinkFull = false;
  private sinkEnded = false;
  private lastClientActivity = Date.now();
  private idleTimeoutMs: number | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly deps: StreamDeps,
    caller: Caller,
    private readonly settings: StreamSettings,
    signal: AbortSignal,
  ) {
    this.userId = caller.userId;
    this.sessionId = caller.sessionId;
    this.idleTimeoutMs = settings.clientIdleTimeoutMs;
    this.buffer = new StreamBuffer(settings, deps.transportBacklog);
    const closed = () => this.fail(new UnavailableError("stream closed by the server; reconnect and resume from your last cursor"));
    if (signal.aborted) closed();
    else signal.addEventListener("abort", closed, { once: true });
  }

  /** Registers for live events, then replays everything after the resume cursor in the background. */
  open(resumeCursor: bigint | undefined): void {
    if (this.ended) return;
    this.opened = true;
    this.deps.hub.add(this);
    this.deps.onOpen(this.userId);
    this.timers.push(setInterval(() => this.heartbeat(), this.settings.heartbeatIntervalMs));
    this.replay(resumeCursor).catch((err: unknown) => this.failUnexpected(err));
  }

  /** The client sent a frame: it is alive. */
  touch(): void {
    this.lastClientActivity = Date.now();
  }

  deliverDurable(frame: ServerFrame): void {
    if (this.ended) return;
    const cursor = Number(frame.cursor);
    if (cursor > this.newestSeen) this.newestSeen = cursor;
    if (this.readingDatabase || cursor <= this.delivered) return;
    if (cursor === this.delivered + 1) this.emitDurable(cursor, frame);
    else this.fillFromDatabase();
  }

  deliverEphemeral(frame: ServerFrame): void {
    this.push(frame);
  }

  /** A frame answering the client (send or receipt results). */
  reply(frame: ServerFrame): void {
    this.push(frame);
  }

  resync(): void {
    if (this.readingDatabase) this.rereadRequested = true;
    else this.fillFromDatabase();
  }

  /**
   * The client closed its sending side (as grpcurl does after the hello): keep streaming
   * events, and stop expecting heartbeats from it; a vanished client is still noticed by
   * the transport.
   */
  clientDone(): void {
    this.idleTimeoutMs = undefined;
  }

  /** Ends the stream normally. */
  end(): void {
    if (this.ended) return;
    this.ended = {};
    this.gone.abort();
    this.wake?.();
    this.buffer.releaseSpace();
  }

  /**
   * Ends the stream with an error. The stream leaves the hub at once (a client that stopped
   * reading may never take its last frames); if the client has not taken them within the
   * drain grace, the transport is reset.
   */
  fail(error: Error): void {
    if (this.ended) return;
    this.ended = { error };
    this.gone.abort();
    if (error instanceof ResourceExhaustedError) this.buffer.clear();
    this.detach();
    setTimeout(() => this.deps.resetTransport?.(error), this.settings.drainGraceMs).unref();
    this.wake?.();
    this.buffer.releaseSpace();
  }

  /**
   * Push mode, instead of frames(): each frame goes to `sink.write` as soon as it is queued,
   * in order, while the sink accepts them (write returns false when its transport's buffer is
   * full: call resume() once it drained); `sink.end` hears how the stream ended, once, after
   * its last frame. No generator or promise waits per stream, which is most of what an idle
   * stream costs in pull mode.
   */
  attach(sink: FrameSink): void {
    this.sink = sink;
    this.wake = () => this.flushToSink();
    this.flushToSink();
  }

  /** The sink's transport drained: write the frames that waited. */
  resume(): void {
    this.sinkFull = false;
    this.flushToSink();
  }

  private flushToSink(): void {
    const sink = this.sink;
    if (!sink || this.sinkEnded) return;
    while (!this.sinkFull) {
      const frame = this.buffer.shift();
      if (!frame) break;
      if (!sink.write(frame)) this.sinkFull = true;
    }
    if (!this.buffer.isHalfFull()) this.buffer.releaseSpace();
    if (this.buffer.length > 0 || !this.ended) return;
    this.sinkEnded = true;
    this.gone.abort();
    this.detach();
    sink.end(this.ended.error);
  }

  async *frames(): AsyncGenerator<ServerFrame> {
    try {
      for (;;) {
        const frame = this.buffer.shift();
        if (frame) {
          if (!this.buffer.isHalfFull()) this.buffer.releaseSpace();
          yield frame;
          continue;
        }
        if (this.ended) {
          if (this.ended.error) throw this.ended.error;
          return;
        }
        this.buffer.releaseSpace();
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      if (!this.ended) this.ended = {};
      this.gone.abort();
      this.buffer.clear();
      this.detach();
    }
  }

  /** Stops timers and leaves the hub (once). */
  private detach(): void {
    if (this.detached || !this.opened) return;
    this.detached = true;
    for (const timer of this.timers) clearInterval(timer);
    this.deps.hub.remove(this);
    this.deps.onClose(this.userId);
    void this.deps.flushAck?.(this.sessionId);
  }

  /** `resumeCursor` is the client's (at most INT8_MAX), compared exactly with the stored bounds. */
  private async replay(resumeCursor: bigint | undefined): Promise<void> {
    // Without a cursor the stream resumes from the session's stored ack: write a pending one first.
    if (resumeCursor === undefined) await this.deps.flushAck?.(this.sessionId);
    const bounds = await this.query(() => resumePoint(this.deps.pool, this.userId, this.sessionId));
    if (bounds === undefined) return;
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
    await this.readDatabase(() =>
      this.push(ephemeralFrame({ case: "caughtUp", value: { cursor: BigInt(this.delivered), resyncRequired } })),
    );
    for (const frame of (await this.deps.snapshot?.(this.userId)) ?? []) this.deliverEphemeral(frame);
  }

  /** Live notices were missed (a cursor skipped, or the bus reconnected): read what lies between from the database. */
  private fillFromDatabase(): void {
    this.readingDatabase = true;
    this.readDatabase().catch((err: unknown) => this.failUnexpected(err));
  }

  /**
   * Delivers from the database, at the client's pace, until everything announced live has
   * been delivered; then runs `done` and switches to live delivery in the same tick.
   */
  private async readDatabase(done?: () => void): Promise<void> {
    for (;;) {
      this.rereadRequested = false;
      const announcedBefore = this.newestSeen;
      const page = await this.query(() => listEvents(this.deps.pool, this.userId, this.delivered, PAGE));
      if (page === undefined) return;
      for (let at = 0; at < page.length; at += REPLAY_CHUNK) {
        // Only a client that took its frames gets more loaded: a stalled stream holds one chunk at most.
        await this.space();
        const frames = await this.query(() => framesForEvents(this.deps.pool, page.slice(at, at + REPLAY_CHUNK)));
        if (frames === undefined) return;
        for (const { cursor, frame } of frames) {
          await this.space();
          if (this.ended) return;
          if (cursor > this.delivered) this.emitDurable(cursor, frame);
        }
      }
      if (this.ended) return;
      // Announced while we read, so possibly committed after the read began: read again.
      const announcedMeanwhile = this.newestSeen > this.delivered && this.newestSeen > announcedBefore;
      if (page.length < PAGE && !announcedMeanwhile && !this.rereadRequested) break;
    }
    done?.();
    this.readingDatabase = false;
  }

  /**
   * Runs one replay query in a shared slot, unless the stream ends first (then undefined:
   * a stream that went away while waiting costs the database nothing).
   */
  private async query<T>(run: () => Promise<T>): Promise<T | undefined> {
    if (this.ended) return undefined;
    try {
      const result = await this.deps.replaySlots.run(run, this.gone.signal);
      return this.ended ? undefined : result;
    } catch (error) {
      if (this.ended) return undefined;
      throw error;
    }
  }

  private emitDurable(cursor: number, frame: ServerFrame | null): void {
    this.delivered = cursor;
    if (frame && frame.event.case !== undefined) this.push(frame);
  }

  private push(frame: ServerFrame): void {
    if (this.ended) return;
    const behind = this.buffer.push(frame);
    if (behind) {
      this.fail(new ResourceExhaustedError(`stream fell more than ${behind} behind; reconnect and resume from your last processed cursor`));
      return;
    }
    this.wake?.();
  }

  /** Reading the database waits for the client to take frames instead of overflowing the buffer. */
  private space(): Promise<void> {
    return this.buffer.waitForSpace(() => this.ended !== undefined);
  }

  private heartbeat(): void {
    const idle = this.idleTimeoutMs;
    if (idle !== undefined && Date.now() - this.lastClientActivity > idle) {
      this.fail(new DeadlineExceededError(`no frame from the client for ${idle} ms; the stream was ended`));
      return;
    }
    this.push(heartbeatFrame());
  }

  private failUnexpected(err: unknown): void {
    this.deps.log.error({ err: { message: (err as Error).message } }, "event stream failed");
    this.fail(new UnavailableError("event stream failed; reconnect and resume from your last processed cursor"));
  }
}
