import type { DatabasePool } from "slonik";
import { replayStarts, type ReplayRequest, type ReplayStart } from "../events/log.js";
import type { Semaphore } from "../shared/semaphore.js";

/** Streams whose replay starts are read in one statement at most. */
const MAX_BATCH = 64;
/** Events read per replay query (the first page here, the next ones by the stream's feed). */
export const REPLAY_PAGE_EVENTS = 500;

interface Pending {
  request: ReplayRequest;
  signal: AbortSignal;
  resolve(start: ReplayStart | undefined): void;
  reject(error: unknown): void;
}

/**
 * Reads the replay start (resume point and first event page, src/events/log.ts) of streams
 * opening at the same time in one statement, as the send batcher commits concurrent sends
 * together: the requests made while a batch waits for its turn (one replay slot, shared with
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
  start(request: ReplayRequest, signal: AbortSignal): Promise<ReplayStart | undefined> {
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
      this.slots.run(() => this.runBatch()).catch((error: unknown) => {
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
      const starts = await replayStarts(this.pool, batch.map((p) => p.request), REPLAY_PAGE_EVENTS);
      batch.forEach((p, i) => p.resolve(p.signal.aborted ? undefined : starts[i]));
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
