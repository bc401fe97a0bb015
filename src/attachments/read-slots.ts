import { ResourceExhaustedError } from "../shared/errors.js";

/** How long a refused reader is told to wait before trying again, in milliseconds. */
const RETRY_AFTER_MS = 1000;

/**
 * Bounds the reads one server serves at once (each holds up to a chunk or two in memory):
 * a read beyond the bound is refused at once with RESOURCE_EXHAUSTED and a retry hint,
 * never queued.
 */
export class ReadSlots {
  private active = 0;

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.active;
  }

  /** Takes a slot; the returned function gives it back (once, however often it is called). */
  take(): () => void {
    if (this.active >= this.limit) {
      throw new ResourceExhaustedError(`this server is serving ${this.limit} attachment reads already; retry shortly`, RETRY_AFTER_MS);
    }
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
    };
  }
}
