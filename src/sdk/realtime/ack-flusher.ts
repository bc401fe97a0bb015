/**
 * Live's coalesced writes, every ackIntervalMs and on close: the handled cursor stored in the Store,
 * acked to the server (on the bidi stream, or through Publish), and the automatic delivery receipts
 * (MarkDelivered, the highest handled seq per chat). A failure that a later flush can fix waits
 * for it; one that cannot is reported as an error event.
 */
import { toCyphrError } from "../errors.js";
import type { Store } from "../store.js";
import { saveCursor } from "./cursor-store.js";
import type { LiveEvent } from "./events.js";
import { isTransient } from "./handler.js";

/** Chats with pending automatic delivery receipts, at most (more flush at once). */
const MAX_PENDING_RECEIPTS = 1000;

export interface FlushDeps {
  store: Store;
  /** The cursor of the last handled durable event. */
  handled(): bigint | undefined;
  /** Sends an ack; false when there is no stream to send it on (the next flush tries again). */
  ack(cursor: bigint): Promise<boolean>;
  markDelivered(chatId: string, seq: bigint): Promise<unknown>;
  emit(event: LiveEvent): Promise<void>;
}

export class AckFlusher {
  private stored: bigint | undefined;
  private acked: bigint | undefined;
  private running: Promise<void> | undefined;
  private readonly receipts = new Map<string, bigint>();

  constructor(private readonly deps: FlushDeps) {}

  /** The cursor the Store holds: where a new stream resumes. */
  get storedCursor(): bigint | undefined {
    return this.stored;
  }

  /** The cursor loaded from the Store at start: already stored. */
  loaded(cursor: bigint | undefined): void {
    this.stored = cursor;
  }

  delivered(chatId: string, seq: bigint): void {
    if ((this.receipts.get(chatId) ?? 0n) < seq) this.receipts.set(chatId, seq);
    if (this.receipts.size >= MAX_PENDING_RECEIPTS) void this.flush();
  }

  /** One flush at a time; a call during one waits for it. */
  flush(): Promise<void> {
    this.running ??= this.flushNow().finally(() => (this.running = undefined));
    return this.running;
  }

  private async flushNow(): Promise<void> {
    try {
      const cursor = this.deps.handled();
      if (cursor !== undefined && cursor !== this.stored) {
        await saveCursor(this.deps.store, cursor);
        this.stored = cursor;
      }
      if (cursor !== undefined && cursor !== this.acked && (await this.deps.ack(cursor))) this.acked = cursor;
      for (const [chatId, seq] of [...this.receipts]) {
        try {
          await this.deps.markDelivered(chatId, seq);
        } catch (err) {
          if (isTransient(toCyphrError(err))) throw err;
          await this.deps.emit({ kind: "error", error: toCyphrError(err), chatId }); // e.g. removed from the chat meanwhile
        }
        if (this.receipts.get(chatId) === seq) this.receipts.delete(chatId);
      }
    } catch (err) {
      const error = toCyphrError(err);
      if (!isTransient(error)) await this.deps.emit({ kind: "error", error });
    }
  }
}
