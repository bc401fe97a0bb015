import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp, uuid } from "../db/types.js";
import { MAX_RECIPIENTS_PER_NOTICE } from "../delivery/notice.js";
import type { EncryptedPayload } from "./payload.js";

/** One send of a batch, as `cyphr_send_batch` (migrations/0007_event_log_writer.sql) takes it. */
export interface BatchSend {
  /** Message id to use if the send is stored now. */
  id: string;
  chatId: string;
  senderId: string;
  clientMessageId: string;
  messageType: number;
  payload: EncryptedPayload;
  /** 0 = the chat's timer. */
  expiresInSeconds: number;
}

export const SendOutcome = {
  stored: 0,
  duplicate: 1,
  chatNotFound: 2,
  notAMember: 3,
} as const;

const batchRow = z.object({
  ord: z.number(),
  outcome: z.number(),
  id: uuid.nullable(),
  seq: z.number().nullable(),
  created_at: timestamp.nullable(),
  expires_at: timestamp.nullable(),
});
export type BatchRow = z.infer<typeof batchRow>;

/**
 * Commits a batch of sends in one statement: membership and idempotency checks, seq
 * reservation, the inserts, and (through cyphr_record_events, the event log's one writer) a
 * durable event per recipient and the NOTIFYs. Returns one
 * row per send, in order.
 */
export async function commitSendBatch(db: Db, sends: readonly BatchSend[]): Promise<BatchRow[]> {
  const col = <T>(f: (s: BatchSend) => T) => sends.map(f);
  // slonik refuses NULL members in bytea arrays: empty means none (the function's NULLIF).
  const bytes = (f: (p: EncryptedPayload) => Uint8Array) =>
    col((s) => {
      const value = f(s.payload);
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    });
  const rows = await db.any(sql.type(batchRow)`
    /* sendBatch */
    SELECT ord, outcome, id, seq, created_at, expires_at FROM cyphr_send_batch(
      ${sql.array(
        col((s) => s.chatId),
        "uuid",
      )}, ${sql.array(
        col((s) => s.senderId),
        "uuid",
      )},
      ${sql.array(
        col((s) => s.clientMessageId),
        "uuid",
      )}, ${sql.array(
        col((s) => s.id),
        "uuid",
      )},
      ${sql.array(
        col((s) => s.messageType),
        "int2",
      )},
      ${sql.array(
        bytes((p) => p.kemCiphertext),
        "bytea",
      )}, ${sql.array(
        bytes((p) => p.ciphertext),
        "bytea",
      )},
      ${sql.array(
        bytes((p) => p.nonce),
        "bytea",
      )}, ${sql.array(
        bytes((p) => p.tag),
        "bytea",
      )},
      ${sql.array(
        bytes((p) => p.header),
        "bytea",
      )}, ${sql.array(
        col((s) => s.expiresInSeconds),
        "int4",
      )},
      ${MAX_RECIPIENTS_PER_NOTICE})`);
  return [...rows];
}

/** A message's idempotency key: the same (chat, sender, client_message_id) is one message. */
export const keyOf = (k: { chatId: string; senderId: string; clientMessageId: string }) => `${k.chatId}:${k.senderId}:${k.clientMessageId}`;
