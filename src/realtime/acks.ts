import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { type SessionAck, storeAcks } from "../events/log.js";

/** Sessions with an unwritten ack before a flush is started at once rather than at the next tick. */
const MAX_PENDING = 10_000;

/**
 * The one owner of stored acks. A client acks every few events; writing each ack is a
 * statement per ack. Acks on streams are kept per session here (only the highest counts) and
 * written together, in one statement: every `flushIntervalMs`, when a session's stream
 * closes, before a stream of that session reads its stored ack, and at shutdown (an ack
 * through Publish is written before its answer). A crash loses at most one interval of acks:
 * those events replay again, and clients drop them by cursor.
 */
export class AckCoalescer {
  private pending = new Map<string, SessionAck>();
  /** Writes under way, by session: a session's ack is only known written once its write settled. */
  private readonly writing = new Map<string, Promise<void>>();
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: DatabasePool,
    private readonly log: Logger,
    private readonly flushIntervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Sessions whose newest ack is not written yet. */
  get pendingCount(): number {
    return this.pending.size;
  }

  ack(userId: string, sessionId: string, cursor: bigint): void {
    const known = this.pending.get(sessionId);
    if (!known || cursor > known.cursor) this.pending.set(sessionId, { sessionId, userId, cursor });
    if (this.pending.size >= MAX_PENDING) void this.flush();
  }

  /** Writes one session's pending ack now, and waits for any write of it under way (its stream closed, or a stream is about to read it). */
  async flushSession(sessionId: string): Promise<void> {
    await this.writing.get(sessionId);
    const ack = this.pending.get(sessionId);
    if (!ack) return;
    this.pending.delete(sessionId);
    await this.write([ack]);
  }

  /** Writes every pending ack in one statement; one flush at a time. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return Promise.resolve();
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = this.write(batch).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Stops the timer and writes what is pending, waiting for every write under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.writing.values());
    await this.flush();
  }

  private write(batch: SessionAck[]): Promise<void> {
    const written = this.store(batch);
    for (const { sessionId } of batch) this.writing.set(sessionId, written);
    void written.finally(() => {
      for (const { sessionId } of batch) if (this.writing.get(sessionId) === written) this.writing.delete(sessionId);
    });
    return written;
  }

  /** A failed write (the database is away) keeps its acks for the next flush, unless newer ones arrived meanwhile. */
  private async store(batch: SessionAck[]): Promise<void> {
    try {
      await storeAcks(this.pool, batch);
    } catch (err) {
      for (const ack of batch) {
        const newer = this.pending.get(ack.sessionId);
        if (!newer || newer.cursor < ack.cursor) this.pending.set(ack.sessionId, ack);
      }
      this.log.warn(
        { err: { name: (err as Error).name, message: (err as Error).message }, acks: batch.length },
        "storing acks failed; retrying at the next flush",
      );
    }
  }
}
