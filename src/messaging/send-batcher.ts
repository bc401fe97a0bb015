import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import type { Db } from "../db/types.js";
import { NotFoundError, PermissionDeniedError } from "../shared/errors.js";
import type { EncryptedPayload } from "./payload.js";
import type { RecentSends } from "./recent-sends.js";
import { commitSendBatch, keyOf, SendOutcome, type BatchSend } from "./send-batch-repo.js";

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
  send: PendingSend;
  settle: (outcome: Outcome) => void;
}

/**
 * Group commit: sends that arrive while earlier ones are being committed are committed
 * together, in one statement (one round trip, its own transaction), however many
 * messages it holds. At most `maxConcurrent` transactions run at once; an idle server commits a lone
 * message at once, so batching costs no latency. Every caller still gets its answer only
 * after the commit that holds its message. If a batch fails as a whole, its messages are
 * retried one by one so that one bad message cannot fail the others.
 */
export class SendBatcher {
  private queue: Waiting[] = [];
  private running = 0;
  /** Same message submitted twice while the first is still being committed. */
  private readonly inFlight = new Map<string, Promise<SendResult>>();

  constructor(
    private readonly pool: DatabasePool,
    private readonly log: Logger,
    private readonly recent: RecentSends,
    private readonly maxBatch = 512,
    private readonly maxConcurrent = 2,
  ) {}

  submit(send: PendingSend): Promise<SendResult> {
    const key = keyOf({ chatId: send.chatId, senderId: send.senderId, clientMessageId: send.clientMessageId });
    const earlier = this.inFlight.get(key);
    if (earlier) return earlier.then((r) => ({ ...r, duplicate: true }));
    const promise = new Promise<SendResult>((resolve, reject) => {
      this.queue.push({ send, settle: (o) => (o.ok ? resolve(o.value) : reject(o.error)) });
      this.pump();
    });
    this.inFlight.set(key, promise);
    const forget = () => this.inFlight.delete(key);
    promise.then(forget, forget);
    return promise;
  }

  private pump(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(batch: Waiting[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await commitBatch(this.pool, batch.map((w) => w.send), this.recent);
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.settle({ ok: false, error: error as Error });
        return;
      }
      this.log.warn({ size: batch.length, err: { message: (error as Error).message } }, "send batch failed; committing its messages one by one");
      for (const waiting of batch) await this.run([waiting]);
      return;
    }
    batch.forEach((waiting, i) => waiting.settle(outcomes[i]!));
  }
}

/** Commits one batch in one statement; returns an outcome per message, in order. */
async function commitBatch(db: Db, sends: readonly PendingSend[], recent: RecentSends): Promise<Outcome[]> {
  const batch: BatchSend[] = sends.map((s) => ({ ...s, id: randomUUID() }));
  // Before the statement: its NOTIFY may reach the event bus before its result reaches us.
  for (const [i, s] of batch.entries()) {
    recent.remember(s.id, {
      chatId: s.chatId,
      senderUserId: s.senderId,
      senderCyphrId: sends[i]!.senderCyphrId,
      clientMessageId: s.clientMessageId,
      messageType: s.messageType,
      payload: s.payload,
    });
  }
  const rows = await commitSendBatch(db, batch);
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
          const duplicate = row.outcome === SendOutcome.duplicate;
          return { ok: true, value: { messageId: row.id, chatId: s.chatId, seq: row.seq, serverTime: row.created_at, expiresAt: row.expires_at, duplicate } };
        }
    }
    return { ok: false, error: new Error(`send ${i + 1} of the batch has no stored row (outcome ${String(row?.outcome)})`) };
  });
}
