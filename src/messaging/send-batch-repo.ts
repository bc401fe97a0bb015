import { sql } from "slonik";
import { z } from "zod";
import { timestamp, uuid, type Db } from "../db/types.js";
import type { EncryptedPayload } from "./payload.js";

/** Bulk statements behind group commit: each takes every message of a batch at once. */

const membershipRow = z.object({ chat_id: uuid, user_id: uuid, active: z.boolean() });

/** Membership of each (chat, user) pair that has one: key "chat:user" → still active? */
export async function membershipsOf(db: Db, pairs: readonly { chatId: string; userId: string }[]): Promise<Map<string, boolean>> {
  const rows = await db.any(sql.type(membershipRow)`
    /* batchMemberships */
    SELECT m.chat_id, m.user_id, m.left_seq IS NULL AS active
    FROM chat_members m
    JOIN unnest(${sql.array(pairs.map((p) => p.chatId), "uuid")}::uuid[], ${sql.array(pairs.map((p) => p.userId), "uuid")}::uuid[])
      AS r (chat_id, user_id) ON r.chat_id = m.chat_id AND r.user_id = m.user_id`);
  return new Map(rows.map((r) => [`${r.chat_id}:${r.user_id}`, r.active]));
}

const storedRow = z.object({
  chat_id: uuid,
  sender_id: uuid,
  client_message_id: uuid,
  id: uuid,
  seq: z.number(),
  created_at: timestamp,
  expires_at: timestamp.nullable(),
});
export type StoredRow = z.infer<typeof storedRow>;

export interface IdempotencyKey {
  chatId: string;
  senderId: string;
  clientMessageId: string;
}

export const keyOf = (k: IdempotencyKey) => `${k.chatId}:${k.senderId}:${k.clientMessageId}`;

/** Messages already stored under these idempotency keys, by key. */
export async function storedByKeys(db: Db, keys: readonly IdempotencyKey[]): Promise<Map<string, StoredRow>> {
  if (keys.length === 0) return new Map();
  const rows = await db.any(sql.type(storedRow)`
    /* batchStoredByKeys */
    SELECT m.chat_id, m.sender_id, m.client_message_id, m.id, m.seq, m.created_at, m.expires_at
    FROM messages m
    JOIN unnest(${sql.array(keys.map((k) => k.chatId), "uuid")}::uuid[], ${sql.array(keys.map((k) => k.senderId), "uuid")}::uuid[],
                ${sql.array(keys.map((k) => k.clientMessageId), "uuid")}::uuid[])
      AS r (chat_id, sender_id, client_message_id)
      ON r.chat_id = m.chat_id AND r.sender_id = m.sender_id AND r.client_message_id = m.client_message_id`);
  return new Map(rows.map((r) => [keyOf({ chatId: r.chat_id, senderId: r.sender_id, clientMessageId: r.client_message_id }), r]));
}

const allocatedRow = z.object({ id: uuid, last_seq: z.number(), timer_seconds: z.number().nullable() });

/**
 * Reserves `count` consecutive seqs in each chat. Chat rows are locked in id order first,
 * so batches touching the same chats cannot deadlock. Returns chat → the last seq
 * reserved and the chat's timer.
 */
export async function reserveSeqs(
  db: Db,
  counts: ReadonlyMap<string, number>,
): Promise<Map<string, { lastSeq: number; timerSeconds: number | null }>> {
  const ids = [...counts.keys()].sort();
  await db.query(sql.unsafe`
    /* lockChatsForSend */
    SELECT id FROM chats WHERE id = ANY(${sql.array(ids, "uuid")}::uuid[]) ORDER BY id FOR UPDATE`);
  const rows = await db.any(sql.type(allocatedRow)`
    /* reserveSeqs */
    UPDATE chats c SET last_seq = c.last_seq + r.n, last_activity_at = now()
    FROM unnest(${sql.array(ids, "uuid")}::uuid[], ${sql.array(ids.map((id) => counts.get(id)!), "int4")}::int4[]) AS r (id, n)
    WHERE c.id = r.id
    RETURNING c.id, c.last_seq, c.timer_seconds`);
  return new Map(rows.map((r) => [r.id, { lastSeq: r.last_seq, timerSeconds: r.timer_seconds }]));
}

export interface BatchMessage {
  id: string;
  chatId: string;
  seq: number;
  senderId: string;
  clientMessageId: string;
  messageType: number;
  payload: EncryptedPayload;
  expiresInSeconds: number | null;
}

/**
 * Inserts the batch in one statement. A message whose idempotency key was committed
 * meanwhile by another transaction (a retry racing on another instance) is skipped and
 * absent from the result.
 */
export async function insertMessages(db: Db, messages: readonly BatchMessage[]): Promise<StoredRow[]> {
  const col = <T>(f: (m: BatchMessage) => T) => messages.map(f);
  const bytes = (f: (p: EncryptedPayload) => Uint8Array) =>
    col((m) => {
      // slonik refuses NULL members in bytea arrays: empty means none (NULLIF below).
      const value = f(m.payload);
      return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    });
  const rows = await db.any(sql.type(storedRow)`
    /* insertMessageBatch */
    INSERT INTO messages (chat_id, seq, id, sender_id, client_message_id, message_type,
                          kem_ciphertext, ciphertext, nonce, tag, header, expires_at)
    SELECT r.chat_id, r.seq, r.id, r.sender_id, r.client_message_id, r.message_type,
           nullif(r.kem, ''::bytea), r.ciphertext, nullif(r.nonce, ''::bytea), nullif(r.tag, ''::bytea),
           nullif(r.header, ''::bytea),
           CASE WHEN r.expires_in IS NULL THEN NULL ELSE now() + make_interval(secs => r.expires_in) END
    FROM unnest(
      ${sql.array(col((m) => m.chatId), "uuid")}::uuid[], ${sql.array(col((m) => m.seq), "int8")}::int8[],
      ${sql.array(col((m) => m.id), "uuid")}::uuid[], ${sql.array(col((m) => m.senderId), "uuid")}::uuid[],
      ${sql.array(col((m) => m.clientMessageId), "uuid")}::uuid[], ${sql.array(col((m) => m.messageType), "int2")}::int2[],
      ${sql.array(bytes((p) => p.kemCiphertext), "bytea")}, ${sql.array(bytes((p) => p.ciphertext), "bytea")},
      ${sql.array(bytes((p) => p.nonce), "bytea")}, ${sql.array(bytes((p) => p.tag), "bytea")},
      ${sql.array(bytes((p) => p.header), "bytea")}, ${sql.array(col((m) => m.expiresInSeconds) as never, "int4")}::int4[]
    ) AS r (chat_id, seq, id, sender_id, client_message_id, message_type, kem, ciphertext, nonce, tag, header, expires_in)
    ON CONFLICT (chat_id, sender_id, client_message_id) DO NOTHING
    RETURNING chat_id, sender_id, client_message_id, id, seq, created_at, expires_at`);
  return [...rows];
}

const memberRow = z.object({ chat_id: uuid, user_id: uuid });

/** Current members of each chat, by chat. */
export async function activeMembersOf(db: Db, chatIds: readonly string[]): Promise<Map<string, string[]>> {
  const rows = await db.any(sql.type(memberRow)`
    /* batchActiveMembers */
    SELECT chat_id, user_id FROM chat_members
    WHERE chat_id = ANY(${sql.array(chatIds, "uuid")}::uuid[]) AND left_seq IS NULL`);
  const members = new Map<string, string[]>();
  for (const row of rows) {
    const list = members.get(row.chat_id);
    if (list) list.push(row.user_id);
    else members.set(row.chat_id, [row.user_id]);
  }
  return members;
}
