import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp, uuid } from "../db/types.js";
import { type ChatKind, ChatProtocol, type LeftReason, type Membership, type Role } from "./model.js";

const membershipRow = z.object({
  chat_id: uuid,
  kind: z.number(),
  user_id: uuid,
  role: z.number(),
  joined_seq: z.number(),
  left_seq: z.number().nullable(),
  left_reason: z.number().nullable(),
  delivered_seq: z.number(),
  read_seq: z.number(),
});

function toMembership(row: z.infer<typeof membershipRow>): Membership {
  return {
    chatId: row.chat_id,
    kind: row.kind as ChatKind,
    userId: row.user_id,
    role: row.role as Role,
    joinedSeq: row.joined_seq,
    leftSeq: row.left_seq,
    leftReason: row.left_reason as LeftReason | null,
    deliveredSeq: row.delivered_seq,
    readSeq: row.read_seq,
  };
}

const MEMBERSHIP_COLUMNS = sql.fragment`m.chat_id, c.kind, m.user_id, m.role, m.joined_seq, m.left_seq, m.left_reason, m.delivered_seq, m.read_seq`;

/** The user's membership (current or past) of the chat, or null if they never belonged. */
export async function findMembership(db: Db, chatId: string, userId: string): Promise<Membership | null> {
  const row = await db.maybeOne(sql.type(membershipRow)`
    /* findMembership */
    SELECT ${MEMBERSHIP_COLUMNS}
    FROM chat_members m JOIN chats c ON c.id = m.chat_id
    WHERE m.chat_id = ${chatId} AND m.user_id = ${userId}`);
  return row ? toMembership(row) : null;
}

/** Same as findMembership, locking the membership row for the transaction. */
export async function lockMembership(db: Db, chatId: string, userId: string): Promise<Membership | null> {
  const row = await db.maybeOne(sql.type(membershipRow)`
    /* lockMembership */
    SELECT ${MEMBERSHIP_COLUMNS}
    FROM chat_members m JOIN chats c ON c.id = m.chat_id
    WHERE m.chat_id = ${chatId} AND m.user_id = ${userId}
    FOR UPDATE OF m`);
  return row ? toMembership(row) : null;
}

const allocatedRow = z.object({ seq: z.number(), timer_seconds: z.number().nullable(), created_at: timestamp });

/**
 * Takes the next seq of the chat. The row lock this UPDATE holds until commit is what
 * serializes concurrent senders: no two messages of a chat ever share a seq.
 */
export async function allocateSeq(db: Db, chatId: string): Promise<z.infer<typeof allocatedRow>> {
  return db.one(sql.type(allocatedRow)`
    /* allocateSeq */
    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = now()
    WHERE id = ${chatId}
    RETURNING last_seq AS seq, timer_seconds, last_activity_at AS created_at`);
}

/** The MLS fields of a new direct chat: its suite (RFC 9420 code point), at epoch 0. */
export interface DirectChatMls {
  ciphersuite: number;
}

/**
 * Creates the pair's direct chat of a protocol (OPAQUE, or MLS at epoch 0) with both
 * memberships; false when the pair already has one of that protocol (race-safe).
 */
export async function insertDirectChat(db: Db, chatId: string, userA: string, userB: string, mls?: DirectChatMls): Promise<boolean> {
  const [low, high] = userA < userB ? [userA, userB] : [userB, userA];
  const created = await db.maybeOneFirst(sql.type(z.object({ id: uuid }))`
    /* insertDirectChat */
    WITH chat AS (
      INSERT INTO chats (id, kind, direct_user_low, direct_user_high, protocol, mls_ciphersuite, mls_epoch)
      VALUES (${chatId}, 1, ${low}, ${high}, ${mls ? ChatProtocol.mls : ChatProtocol.opaque}, ${mls?.ciphersuite ?? null}, ${mls ? 0 : null})
      ON CONFLICT (direct_user_low, direct_user_high, protocol) DO NOTHING
      RETURNING id
    ), members AS (
      INSERT INTO chat_members (chat_id, user_id, role, joined_seq)
      SELECT chat.id, u.id, 1, 1 FROM chat, (VALUES (${low}::uuid), (${high}::uuid)) AS u (id)
    )
    SELECT id FROM chat`);
  return created !== null;
}

/** The pair's direct chat of a protocol, if any. */
export async function findDirectChat(db: Db, userA: string, userB: string, protocol: ChatProtocol): Promise<string | null> {
  const [low, high] = userA < userB ? [userA, userB] : [userB, userA];
  return db.maybeOneFirst(sql.type(z.object({ id: uuid }))`
    /* findDirectChat */
    SELECT id FROM chats WHERE direct_user_low = ${low} AND direct_user_high = ${high} AND protocol = ${protocol}`);
}

/** The OPAQUE direct chat of the pair, created (with both memberships) if absent; race-safe. */
export async function findOrCreateDirectChat(db: Db, newChatId: string, userA: string, userB: string): Promise<string> {
  if (await insertDirectChat(db, newChatId, userA, userB)) return newChatId;
  return (await findDirectChat(db, userA, userB, ChatProtocol.opaque))!;
}

/**
 * Stores the chat's timer; returns the group version it leaves in force (0 for direct
 * chats). The row lock this UPDATE holds keeps that version current until commit.
 */
export async function setChatTimer(db: Db, chatId: string, timerSeconds: number | null): Promise<number> {
  return db.oneFirst(sql.type(z.object({ group_version: z.number() }))`
    /* setChatTimer */
    UPDATE chats SET timer_seconds = ${timerSeconds} WHERE id = ${chatId} RETURNING group_version`);
}
