import { type FragmentSqlToken, sql } from "slonik";
import { z } from "zod";
import type { Role, SystemEventKind } from "../chats/model.js";
import { bytes, type Db, timestamp, uuid } from "../db/types.js";
import type { StoredMessage } from "./model.js";
import type { EncryptedPayload } from "./payload.js";

/** A message row as the message queries select it (history here, delivery in src/delivery/read-back.ts). */
export const messageRow = z.object({
  id: uuid,
  chat_id: uuid,
  seq: z.number(),
  sender_id: uuid.nullable(),
  sender_cyphr_id: z.string().nullable(),
  client_message_id: uuid.nullable(),
  message_type: z.number(),
  kem_ciphertext: bytes.nullable(),
  ciphertext: bytes.nullable(),
  nonce: bytes.nullable(),
  tag: bytes.nullable(),
  header: bytes.nullable(),
  system_event: z
    .object({
      kind: z.number(),
      actor: uuid,
      target: uuid.optional(),
      role: z.number().optional(),
      timer: z.number().optional(),
      version: z.number().optional(),
      call: z.object({ id: uuid, outcome: z.string(), durationSeconds: z.number(), video: z.boolean() }).optional(),
    })
    .nullable(),
  actor_cyphr_id: z.string().nullable(),
  target_cyphr_id: z.string().nullable(),
  created_at: timestamp,
  edited_at: timestamp.nullable(),
  deleted_at: timestamp.nullable(),
  expires_at: timestamp.nullable(),
  recipient_count: z.number().nullable(),
  delivered_count: z.number().nullable(),
  read_count: z.number().nullable(),
});

/** A message's own columns with sender and system-event Cyphr IDs joined in. Expects the message aliased `m`. */
export const MESSAGE_COLUMNS = sql.fragment`
    m.id, m.chat_id, m.seq, m.sender_id, s.cyphr_id AS sender_cyphr_id, m.client_message_id, m.message_type,
    m.kem_ciphertext, m.ciphertext, m.nonce, m.tag, m.header, m.system_event,
    a.cyphr_id AS actor_cyphr_id, t.cyphr_id AS target_cyphr_id,
    m.created_at, m.edited_at, m.deleted_at, m.expires_at`;
export const IDENTITY_JOINS = sql.fragment`
    LEFT JOIN identities s ON s.id = m.sender_id
    LEFT JOIN identities a ON a.id = (m.system_event ->> 'actor')::uuid
    LEFT JOIN identities t ON t.id = (m.system_event ->> 'target')::uuid`;

/**
 * Columns of a message as history shows it, for `viewerId`: sender and system-event
 * Cyphr IDs joined in, and receipt counts over the other current members on the
 * viewer's own messages (a member the message is hidden from counts as a recipient who
 * never receives or reads it). Expects the message aliased `m`.
 */
function messageSelect(viewerId: string): FragmentSqlToken {
  return sql.fragment`
    ${MESSAGE_COLUMNS}, r.recipient_count, r.delivered_count, r.read_count
    FROM messages m
    ${IDENTITY_JOINS}
    LEFT JOIN LATERAL (
      SELECT count(*)::int AS recipient_count,
             (count(*) FILTER (WHERE cm.delivered_seq >= m.seq AND NOT ${hiddenFrom(sql.fragment`cm.user_id`, "m")}))::int AS delivered_count,
             (count(*) FILTER (WHERE cm.read_seq >= m.seq AND NOT ${hiddenFrom(sql.fragment`cm.user_id`, "m")}))::int AS read_count
      FROM chat_members cm
      WHERE cm.chat_id = m.chat_id AND cm.user_id <> m.sender_id AND cm.left_seq IS NULL
    ) r ON m.sender_id = ${viewerId}`;
}

export function toMessage(row: z.infer<typeof messageRow>): StoredMessage {
  const event = row.system_event;
  const hasPayload = row.ciphertext !== null;
  return {
    id: row.id,
    chatId: row.chat_id,
    seq: row.seq,
    senderUserId: row.sender_id,
    senderCyphrId: row.sender_cyphr_id,
    clientMessageId: row.client_message_id,
    messageType: row.message_type,
    payload: hasPayload
      ? {
          kemCiphertext: row.kem_ciphertext ?? Buffer.alloc(0),
          ciphertext: row.ciphertext!,
          nonce: row.nonce ?? Buffer.alloc(0),
          tag: row.tag ?? Buffer.alloc(0),
          header: row.header ?? Buffer.alloc(0),
        }
      : null,
    systemEvent: event
      ? {
          kind: event.kind as SystemEventKind,
          actorUserId: event.actor,
          actorCyphrId: row.actor_cyphr_id ?? "",
          targetUserId: event.target ?? null,
          targetCyphrId: row.target_cyphr_id,
          role: (event.role ?? null) as Role | null,
          timerSeconds: event.timer ?? null,
          groupVersion: event.version ?? null,
          call: event.call ?? null,
        }
      : null,
    createdAt: row.created_at,
    editedAt: row.edited_at,
    deletedAt: row.deleted_at,
    expiresAt: row.expires_at,
    receipts:
      row.recipient_count === null ? null : { recipientCount: row.recipient_count, deliveredCount: row.delivered_count ?? 0, readCount: row.read_count ?? 0 },
  };
}

/** Expired messages are never shown (the sweeper deletes them later); delivery applies the same rule (src/delivery/read-back.ts). */
export const NOT_EXPIRED = sql.fragment`(m.expires_at IS NULL OR m.expires_at > now())`;

/**
 * The message aliased `alias` is hidden from `viewer` (a bound value or a column): it was
 * stored while the viewer had blocked its sender (migration 0015), so no read path of theirs
 * shows or counts it. A primary-key probe of hidden_messages.
 */
export function hiddenFrom(viewer: FragmentSqlToken, alias: string): FragmentSqlToken {
  const message = sql.identifier([alias]);
  return sql.fragment`EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ${viewer} AND h.chat_id = ${message}.chat_id AND h.seq = ${message}.seq)`;
}

const viewer = (viewerId: string) => sql.fragment`${viewerId}::uuid`;

/** Of the chat's current members, those the message at `seq` is not hidden from (who get its edits and deletion). */
export async function membersSeeing(db: Db, chatId: string, seq: number): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* membersSeeingMessage */
    SELECT cm.user_id FROM chat_members cm
    WHERE cm.chat_id = ${chatId} AND cm.left_seq IS NULL
      AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = cm.user_id AND h.chat_id = ${chatId} AND h.seq = ${seq})`);
  return [...rows];
}

/**
 * Hides the message at `seq` from the chat's current members who blocked `senderId`: an edit
 * the blocked sender makes now is something they sent during the block, so the blocker no
 * longer sees the message at all (the row is rewritten in place; there is no earlier version to show).
 */
export async function hideFromBlockersOf(db: Db, chatId: string, seq: number, senderId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* hideMessageFromBlockers */
    INSERT INTO hidden_messages (chat_id, seq, user_id)
    SELECT ${chatId}, ${seq}, cm.user_id FROM chat_members cm
    JOIN blocks b ON b.blocker_id = cm.user_id AND b.blocked_id = ${senderId}
    WHERE cm.chat_id = ${chatId} AND cm.left_seq IS NULL
    ON CONFLICT DO NOTHING`);
}

export interface HistoryPage {
  chatId: string;
  viewerId: string;
  /** Visible window of the viewer's membership. */
  fromSeq: number;
  toSeq: number | null;
  /** Client-supplied (at most INT8_MAX), kept exact: 0 means no bound. */
  cursorSeq: bigint;
  forward: boolean;
  limit: number;
}

/** One page of visible history (never expired messages, never those hidden from the viewer) in the requested order. */
export async function listMessages(db: Db, page: HistoryPage): Promise<StoredMessage[]> {
  const bound = page.cursorSeq === 0n ? sql.fragment`TRUE` : page.forward ? sql.fragment`m.seq > ${page.cursorSeq}` : sql.fragment`m.seq < ${page.cursorSeq}`;
  const upper = page.toSeq === null ? sql.fragment`TRUE` : sql.fragment`m.seq <= ${page.toSeq}`;
  const rows = await db.any(sql.type(messageRow)`
    /* listMessages */
    SELECT ${messageSelect(page.viewerId)}
    WHERE m.chat_id = ${page.chatId} AND m.seq >= ${page.fromSeq} AND ${upper} AND ${bound} AND ${NOT_EXPIRED}
      AND NOT ${hiddenFrom(viewer(page.viewerId), "m")}
    ORDER BY m.seq ${page.forward ? sql.fragment`ASC` : sql.fragment`DESC`}
    LIMIT ${page.limit}`);
  return rows.map(toMessage);
}

/** The message (not expired, not hidden from the viewer) by id, as `viewerId` would see it. */
export async function findMessage(db: Db, messageId: string, viewerId: string): Promise<StoredMessage | null> {
  const row = await db.maybeOne(sql.type(messageRow)`
    /* findMessage */
    SELECT ${messageSelect(viewerId)}
    WHERE m.id = ${messageId} AND ${NOT_EXPIRED} AND NOT ${hiddenFrom(viewer(viewerId), "m")}`);
  return row ? toMessage(row) : null;
}

export async function replacePayload(db: Db, chatId: string, seq: number, payload: EncryptedPayload): Promise<void> {
  await db.query(sql.unsafe`
    /* replacePayload */
    UPDATE messages SET kem_ciphertext = ${optionalBytes(payload.kemCiphertext)},
      ciphertext = ${sql.binary(Buffer.from(payload.ciphertext))}, nonce = ${optionalBytes(payload.nonce)},
      tag = ${optionalBytes(payload.tag)}, header = ${optionalBytes(payload.header)}, edited_at = now()
    WHERE chat_id = ${chatId} AND seq = ${seq}`);
}

/** Erases the payload and marks the message deleted; the row stays as a tombstone. */
export async function tombstone(db: Db, chatId: string, seq: number): Promise<void> {
  await db.query(sql.unsafe`
    /* tombstoneMessage */
    UPDATE messages SET kem_ciphertext = NULL, ciphertext = NULL, nonce = NULL, tag = NULL, header = NULL,
      deleted_at = now()
    WHERE chat_id = ${chatId} AND seq = ${seq} AND deleted_at IS NULL`);
}

/** Deletes up to `batch` expired messages, rows and all; returns how many. */
export async function purgeExpired(db: Db, now: Date, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* purgeExpiredMessages */
    DELETE FROM messages WHERE (chat_id, seq) IN (
      SELECT chat_id, seq FROM messages WHERE expires_at <= ${sql.timestamp(now)} LIMIT ${batch})`);
  return result.rowCount;
}

function optionalBytes(value: Uint8Array) {
  return value.length === 0 ? null : sql.binary(Buffer.from(value));
}

/** Deletes messages stored more than `days` days before `now` (MESSAGE_RETENTION_DAYS), whatever their timer. */
export async function purgeOlderThan(db: Db, now: Date, days: number, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* purgeMessagesOlderThan */
    DELETE FROM messages WHERE (chat_id, seq) IN (
      SELECT chat_id, seq FROM messages WHERE created_at < ${sql.timestamp(now)} - make_interval(days => ${days}) LIMIT ${batch})`);
  return result.rowCount;
}
