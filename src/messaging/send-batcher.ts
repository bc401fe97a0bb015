import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import type { Db } from "../db/types.js";
import { recordEvents } from "../events/log.js";
import { DurableKind, type NewDurableEvent } from "../events/model.js";
import { NotFoundError, PermissionDeniedError } from "../shared/errors.js";
import type { EncryptedPayload } from "./payload.js";
import {
  activeMembersOf,
  insertMessages,
  keyOf,
  membershipsOf,
  reserveSeqs,
  storedByKeys,
  type BatchMessage,
  type StoredRow,
} from "./send-batch-repo.js";

/** A validated message waiting to be committed. */
export interface PendingSend {
  chatId: string;
  senderId: string;
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
 * together, in one transaction of a handful of statements, however many messages it
 * holds. At most `maxConcurrent` transactions run at once; an idle server commits a lone
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
    private readonly maxBatch = 512,
    private readonly maxConcurrent = 3,
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
      outcomes = await this.pool.transaction((tx) => commitBatch(tx, batch.map((w) => w.send)));
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

/** Commits one batch; returns an outcome per message, in order. */
async function commitBatch(tx: Db, sends: readonly PendingSend[]): Promise<Outcome[]> {
  const outcomes: (Outcome | undefined)[] = new Array(sends.length);
  const memberships = await membershipsOf(tx, sends.map((s) => ({ chatId: s.chatId, userId: s.senderId })));
  const candidates: number[] = [];
  sends.forEach((s, i) => {
    const active = memberships.get(`${s.chatId}:${s.senderId}`);
    if (active === undefined) outcomes[i] = { ok: false, error: new NotFoundError(`chat ${s.chatId} not found`) };
    else if (!active) outcomes[i] = { ok: false, error: new PermissionDeniedError("you are no longer a member of this group") };
    else candidates.push(i);
  });

  const keys = candidates.map((i) => sends[i]!);
  const existing = await storedByKeys(tx, keys);
  const fresh: number[] = [];
  const seenInBatch = new Map<string, number>();
  for (const i of candidates) {
    const key = keyOf(sends[i]!);
    const stored = existing.get(key);
    if (stored) outcomes[i] = { ok: true, value: resultOf(stored, true) };
    else if (seenInBatch.has(key)) continue; // answered below from the first copy
    else {
      seenInBatch.set(key, i);
      fresh.push(i);
    }
  }

  if (fresh.length > 0) {
    const counts = new Map<string, number>();
    for (const i of fresh) counts.set(sends[i]!.chatId, (counts.get(sends[i]!.chatId) ?? 0) + 1);
    const reserved = await reserveSeqs(tx, counts);
    const nextSeq = new Map([...reserved].map(([chat, r]) => [chat, r.lastSeq - counts.get(chat)! + 1]));
    const messages: BatchMessage[] = fresh.map((i) => {
      const s = sends[i]!;
      const seq = nextSeq.get(s.chatId)!;
      nextSeq.set(s.chatId, seq + 1);
      const timer = reserved.get(s.chatId)!.timerSeconds;
      return {
        id: randomUUID(),
        chatId: s.chatId,
        seq,
        senderId: s.senderId,
        clientMessageId: s.clientMessageId,
        messageType: s.messageType,
        payload: s.payload,
        expiresInSeconds: s.expiresInSeconds || timer,
      };
    });
    const inserted = new Map((await insertMessages(tx, messages)).map((r) => [keyOf({ chatId: r.chat_id, senderId: r.sender_id, clientMessageId: r.client_message_id }), r]));
    // Skipped on conflict: a racing retry committed the same key elsewhere; answer with that.
    const raced = fresh.filter((i) => !inserted.has(keyOf(sends[i]!)));
    const racedRows = await storedByKeys(tx, raced.map((i) => sends[i]!));
    for (const i of fresh) {
      const key = keyOf(sends[i]!);
      const row = inserted.get(key);
      const other = racedRows.get(key);
      if (row) outcomes[i] = { ok: true, value: resultOf(row, false) };
      else if (other) outcomes[i] = { ok: true, value: resultOf(other, true) };
      else outcomes[i] = { ok: false, error: new Error("message neither inserted nor found") };
    }
    const members = await activeMembersOf(tx, [...counts.keys()]);
    // In reservation order, so each chat's events follow its seqs.
    const events: NewDurableEvent[] = fresh.flatMap((i) => {
      const row = inserted.get(keyOf(sends[i]!));
      return row ? [{ kind: DurableKind.messageNew, chatId: row.chat_id, seq: row.seq, data: null, recipients: members.get(row.chat_id) ?? [] }] : [];
    });
    await recordEvents(tx, events);
  }

  for (const [key, first] of seenInBatch) {
    sends.forEach((s, i) => {
      if (outcomes[i] === undefined && keyOf(s) === key) {
        const original = outcomes[first]!;
        outcomes[i] = original.ok ? { ok: true, value: { ...original.value, duplicate: true } } : original;
      }
    });
  }
  return outcomes.map((o) => o ?? { ok: false, error: new Error("message was not processed") });
}

function resultOf(row: StoredRow, duplicate: boolean): SendResult {
  return { messageId: row.id, chatId: row.chat_id, seq: row.seq, serverTime: row.created_at, expiresAt: row.expires_at, duplicate };
}
