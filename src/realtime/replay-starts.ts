import type { DatabasePool } from "slonik";
import { framesForEvents } from "../delivery/event-frames.js";
import { type ReplayRequest, type ReplayStart, replayStarts } from "../events/log.js";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Semaphore } from "../shared/semaphore.js";

/** Streams whose replay starts are read in one statement at most. */
const MAX_BATCH = 64;
/** Events read per replay query (the first page here, the next ones by the stream's feed). */
export const REPLAY_PAGE_EVENTS = 500;
/** Events whose messages are loaded at once: a replay holds at most this many loaded frames beyond its buffer. */
export const REPLAY_CHUNK_EVENTS = 16;

/** A stream's replay start with the frames of its first chunk of events (REPLAY_CHUNK_EVENTS), messages read back. */
export interface LoadedReplayStart extends ReplayStart {
  firstFrames: { cursor: number; frame: ServerFrame | null }[];
}

interface Pending {
  request: ReplayRequest;
  signal: AbortSignal;
  resolve(start: LoadedReplayStart | undefined): void;
  reject(error: unknown): void;
}

/**
 * Reads the replay start (resume point and first event page, src/events/log.ts) of streams
 * opening at the same time in one statement, and the messages of each one's first chunk of
 * events in one more (src/delivery/event-frames.ts), as the send batcher commits concurrent
 * sends together: the requests made while a batch waits for its turn (one replay slot, shared with
 * every other replay read) go in the same batch, up to MAX_BATCH. A stream that ended before
 * its batch ran is left out and costs nothing. A failed batch fails each of its streams, as a
 * failed read of its own would.
 */
export class ReplayStarts {
  private readonly queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly pool: DatabasePool,
    private readonly slots: Semaphore,
  ) {}

  /** The stream's replay start; undefined if `signal` aborted first. */
  start(request: ReplayRequest, signal: AbortSignal): Promise<LoadedReplayStart | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.queue.push({ request, signal, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // The batch forms until the next turn of the event loop and while it waits for a slot: streams opening meanwhile join it.
    setImmediate(() => {
      this.slots
        .run(() => this.runBatch())
        .catch((error: unknown) => {
          // Only a slot that failed to run lands here: fail what waits rather than strand it.
          this.scheduled = false;
          for (const p of this.queue.splice(0)) p.reject(error);
        });
    });
  }

  private async runBatch(): Promise<void> {
    this.scheduled = false;
    const batch = this.take();
    this.schedule();
    if (batch.length === 0) return;
    try {
      const starts = await replayStarts(
        this.pool,
        batch.map((p) => p.request),
        REPLAY_PAGE_EVENTS,
      );
      // framesForEvents answers event by event, in order, whoever's events they are.
      const frames = await framesForEvents(
        this.pool,
        starts.flatMap((s) => s.events.slice(0, REPLAY_CHUNK_EVENTS)),
      );
      let at = 0;
      batch.forEach((p, i) => {
        const start = starts[i]!;
        const count = Math.min(start.events.length, REPLAY_CHUNK_EVENTS);
        const firstFrames = frames.slice(at, (at += count));
        p.resolve(p.signal.aborted ? undefined : { ...start, firstFrames });
      });
    } catch (error) {
      for (const p of batch) {
        if (p.signal.aborted) p.resolve(undefined);
        else p.reject(error);
      }
    }
  }

  /** Up to MAX_BATCH waiting requests whose streams are still open; the others resolve undefined. */
  private take(): Pending[] {
    const batch: Pending[] = [];
    while (batch.length < MAX_BATCH && this.queue.length > 0) {
      const next = this.queue.shift()!;
      if (next.signal.aborted) next.resolve(undefined);
      else batch.push(next);
    }
    return batch;
  }
}
