import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { isDatabaseUnavailable } from "../db/connection-loss.js";
import type { Db } from "../db/types.js";
import type { RecentSends } from "../delivery/recent-sends.js";
import { recordSendBatch } from "../metrics/registry.js";
import { NotFoundError, PermissionDeniedError } from "../shared/errors.js";
import type { EncryptedPayload } from "./payload.js";
import { type BatchRow, type BatchSend, commitSendBatch, keyOf, SendOutcome } from "./send-batch-repo.js";
import { SendQueue } from "./send-queue.js";

/** A validated message waiting to be committed. */
export interface PendingSend {
  chatId: string;
  senderId: string;
  senderCyphrId: string;
  clientMessageId: string;
  messageType: number;
  payload: EncryptedPayload;
  /** 0 = the chat's timer. */
  expiresInSeconds: number;
}

export interface SendResult {
  messageId: string;
  chatId: string;
  seq: number;
  serverTime: Date;
  expiresAt: Date | null;
  duplicate: boolean;
}

type Outcome = { ok: true; value: SendResult } | { ok: false; error: Error };

interface Waiting {
  /** The send's chat: the queue's key (src/messaging/send-queue.ts). */
  chatId: string;
  send: PendingSend;
  /**
   * The id this send is stored under, chosen once: when a batch whose connection died
   * after its commit is retried one send at a time, the retry finds the row under this
   * very id and knows it answers this request, not a client's retry.
   */
  id: string;
  /** Its payload is in RecentSends already (by an earlier attempt). */
  remembered: boolean;
  settle: (outcome: Outcome) => void;
}

/** Commits sends in one statement and answers each; the batcher's only way to the database. */
export type CommitSends = (db: Db, sends: readonly BatchSend[]) => Promise<BatchRow[]>;

/**
 * Group commit: sends that arrive while earlier ones are being committed are committed
 * together, in one statement (one round trip, its own transaction), however many
 * messages it holds. At most `maxConcurrent` transactions run at once, never two with sends
 * of one chat (src/messaging/send-queue.ts), so one chat's sends commit in the order they
 * were submitted; an idle server commits a lone message at once, so batching costs no latency. Every caller still gets its answer only
 * after the commit that holds its message. If a batch fails as a whole, its messages are
 * retried one by one so that one bad message cannot fail the others, or, when its
 * connection was lost, once more together. A send found stored under its own id by a
 * retry was committed by the failed attempt and is answered as a plain success
 * (`duplicate` answers a client's retry only).
 */
export class SendBatcher {
  private readonly queue = new SendQueue<Waiting>();
  private running = 0;
  /** Same message submitted twice while the first is still being committed. */
  private readonly inFlight = new Map<string, Promise<SendResult>>();

  constructor(
    private readonly pool: DatabasePool,
    private readonly log: Logger,
    private readonly recent: RecentSends,
    private readonly maxBatch = 512,
    private readonly maxConcurrent = 2,
    private readonly commit: CommitSends = commitSendBatch,
  ) {}

  submit(send: PendingSend): Promise<SendResult> {
    const key = keyOf({ chatId: send.chatId, senderId: send.senderId, clientMessageId: send.clientMessageId });
    const earlier = this.inFlight.get(key);
    if (earlier) return earlier.then((r) => ({ ...r, duplicate: true }));
    const promise = new Promise<SendResult>((resolve, reject) => {
      this.queue.push({ chatId: send.chatId, send, id: randomUUID(), remembered: false, settle: (o) => (o.ok ? resolve(o.value) : reject(o.error)) });
      this.pump();
    });
    this.inFlight.set(key, promise);
    const forget = () => this.inFlight.delete(key);
    promise.then(forget, forget);
    return promise;
  }

  private pump(): void {
    while (this.running < this.maxConcurrent && this.queue.hasReady) {
      const batch = this.queue.take(this.maxBatch);
      recordSendBatch(batch.length);
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.queue.release(batch);
        this.pump();
      });
    }
  }

  private async run(batch: Waiting[]): Promise<void> {
    let failure = await this.attempt(batch);
    if (failure === undefined) return;
    if (isDatabaseUnavailable(failure)) {
      // The connection died, perhaps after the commit: once more as a whole (each send keeps
      // its id, so a committed one reads as ours). A database still away fails every send
      // with UNAVAILABLE at once, rather than one costly attempt per send.
      failure = await this.attempt(batch);
      if (failure === undefined) return;
      for (const waiting of batch) waiting.settle({ ok: false, error: failure });
      return;
    }
    if (batch.length === 1) {
      batch[0]!.settle({ ok: false, error: failure });
      return;
    }
    this.log.warn({ size: batch.length, err: { message: failure.message } }, "send batch failed; committing its messages one by one");
    for (const waiting of batch) await this.run([waiting]);
  }

  /** Commits `batch` and answers each of its sends; the error instead when it failed as a whole. */
  private async attempt(batch: Waiting[]): Promise<Error | undefined> {
    let outcomes: Outcome[];
    try {
      outcomes = await commitBatch(this.pool, batch, this.recent, this.commit);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
    batch.forEach((waiting, i) => waiting.settle(outcomes[i]!));
    return undefined;
  }
}

/** Commits one batch in one statement; returns an outcome per message, in order. */
async function commitBatch(db: Db, waiting: readonly Waiting[], recent: RecentSends, commit: CommitSends): Promise<Outcome[]> {
  const batch: BatchSend[] = waiting.map((w) => ({ ...w.send, id: w.id }));
  // Before the statement: its NOTIFY may reach the event bus before its result reaches us.
  for (const [i, s] of batch.entries()) {
    if (waiting[i]!.remembered) continue;
    waiting[i]!.remembered = true;
    recent.remember(s.id, {
      chatId: s.chatId,
      senderUserId: s.senderId,
      senderCyphrId: waiting[i]!.send.senderCyphrId,
      clientMessageId: s.clientMessageId,
      messageType: s.messageType,
      payload: s.payload,
    });
  }
  const rows = await commit(db, batch);
  return batch.map((s, i): Outcome => {
    const row = rows[i];
    switch (row?.outcome) {
      case SendOutcome.chatNotFound:
        return { ok: false, error: new NotFoundError(`chat ${s.chatId} not found`) };
      case SendOutcome.notAMember:
        return { ok: false, error: new PermissionDeniedError("you are no longer a member of this group") };
      case SendOutcome.stored:
      case SendOutcome.duplicate:
        if (row.id !== null && row.seq !== null && row.created_at !== null) {
          // Stored under another id: an earlier request (a client's retry). Under this one: ours.
          const duplicate = row.outcome === SendOutcome.duplicate && row.id !== s.id;
          return { ok: true, value: { messageId: row.id, chatId: s.chatId, seq: row.seq, serverTime: row.created_at, expiresAt: row.expires_at, duplicate } };
        }
    }
    return { ok: false, error: new Error(`send ${i + 1} of the batch has no stored row (outcome ${String(row?.outcome)})`) };
  });
}
