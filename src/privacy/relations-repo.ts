import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp, uuid } from "../db/types.js";
import type { BlockedUser } from "./model.js";

/** `userId` accepted `contactId` (wrote first, replied, accepted a request, added them to a group). */
export async function addContact(db: Db, userId: string, contactId: string): Promise<void> {
  if (userId === contactId) return;
  await db.query(sql.unsafe`
    /* addContact */
    INSERT INTO contacts (user_id, contact_id) VALUES (${userId}, ${contactId}) ON CONFLICT DO NOTHING`);
}

export async function removeContact(db: Db, userId: string, contactId: string): Promise<void> {
  await db.query(sql.unsafe`/* removeContact */ DELETE FROM contacts WHERE user_id = ${userId} AND contact_id = ${contactId}`);
}

export async function hasAccepted(db: Db, userId: string, contactId: string): Promise<boolean> {
  return db.exists(sql.unsafe`/* hasAccepted */ SELECT 1 FROM contacts WHERE user_id = ${userId} AND contact_id = ${contactId}`);
}

/** True when either of the two blocked the other. */
export async function blockedEitherWay(db: Db, a: string, b: string): Promise<boolean> {
  return db.exists(sql.unsafe`
    /* blockedEitherWay */
    SELECT 1 FROM blocks WHERE (blocker_id = ${a} AND blocked_id = ${b}) OR (blocker_id = ${b} AND blocked_id = ${a})`);
}

export async function hasBlocked(db: Db, blockerId: string, blockedId: string): Promise<boolean> {
  return db.exists(sql.unsafe`/* hasBlocked */ SELECT 1 FROM blocks WHERE blocker_id = ${blockerId} AND blocked_id = ${blockedId}`);
}

/** What a subject shares, each gated by a setting of theirs (delivery receipts by none). */
export type Shared = "typing" | "read_receipts" | "delivery_receipts" | "presence";

const SETTING_OF: Record<Shared, ReturnType<typeof sql.fragment>> = {
  typing: sql.fragment`i.typing_indicators`,
  read_receipts: sql.fragment`i.read_receipts`,
  delivery_receipts: sql.fragment`true`,
  presence: sql.fragment`i.share_presence`,
};

const NOT_BLOCKED_EITHER_WAY = (subject: string) => sql.fragment`
  NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = ${subject} AND b.blocked_id = u) OR (b.blocker_id = u AND b.blocked_id = ${subject}))`;

/**
 * Of `candidates` (members of `chatId`), those who may receive `what` of `subjectId` in that
 * chat: nothing while the chat is a request for the subject; in a direct chat only a peer
 * the subject accepted; never across a block; and only with the subject's setting on.
 */
export async function chatAudience(db: Db, chatId: string, subjectId: string, candidates: readonly string[], what: Shared): Promise<string[]> {
  if (candidates.length === 0) return [];
  const rows = await db.anyFirst(sql.type(z.object({ u: uuid }))`
    /* privacyChatAudience */
    SELECT u FROM unnest(${sql.array(candidates, "uuid")}) AS u
    JOIN identities i ON i.id = ${subjectId}
    JOIN chats ch ON ch.id = ${chatId}
    WHERE ${SETTING_OF[what]}
      AND NOT EXISTS (SELECT 1 FROM chat_requests q WHERE q.chat_id = ${chatId} AND q.user_id = ${subjectId})
      AND (ch.kind <> 1 OR EXISTS (SELECT 1 FROM contacts c WHERE c.user_id = ${subjectId} AND c.contact_id = u))
      AND ${NOT_BLOCKED_EITHER_WAY(subjectId)}`);
  return [...rows];
}

/** Of `candidates`, those who did not block `senderId` (who may receive what the sender does). */
export async function notBlocking(db: Db, senderId: string, candidates: readonly string[]): Promise<string[]> {
  if (candidates.length === 0) return [];
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* notBlocking */
    SELECT u AS user_id FROM unnest(${sql.array(candidates, "uuid")}) AS u
    WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u AND b.blocked_id = ${senderId})`);
  return [...rows];
}

export async function insertBlock(db: Db, blockerId: string, blockedId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* insertBlock */
    INSERT INTO blocks (blocker_id, blocked_id) VALUES (${blockerId}, ${blockedId}) ON CONFLICT DO NOTHING`);
}

export async function deleteBlock(db: Db, blockerId: string, blockedId: string): Promise<void> {
  await db.query(sql.unsafe`/* deleteBlock */ DELETE FROM blocks WHERE blocker_id = ${blockerId} AND blocked_id = ${blockedId}`);
}

export async function countBlocks(db: Db, blockerId: string): Promise<number> {
  return db.oneFirst(sql.type(z.object({ n: z.number() }))`/* countBlocks */ SELECT count(*)::int AS n FROM blocks WHERE blocker_id = ${blockerId}`);
}

/** Position in ListBlocked: newest first, then by blocked user id. */
export interface BlockCursor {
  blockedAtMicros: string;
  blockedId: string;
}

export async function listBlocks(db: Db, blockerId: string, after: BlockCursor | null, limit: number): Promise<(BlockedUser & { cursor: BlockCursor })[]> {
  const afterClause = after
    ? sql.fragment`AND (floor(extract(epoch FROM b.blocked_at) * 1000000)::int8, b.blocked_id) < (${after.blockedAtMicros}::int8, ${after.blockedId}::uuid)`
    : sql.fragment``;
  const rows = await db.any(sql.type(z.object({ cyphr_id: z.string(), blocked_at: timestamp, blocked_id: uuid, micros: z.string() }))`
    /* listBlocks */
    SELECT i.cyphr_id, b.blocked_at, b.blocked_id, floor(extract(epoch FROM b.blocked_at) * 1000000)::int8::text AS micros
    FROM blocks b JOIN identities i ON i.id = b.blocked_id
    WHERE b.blocker_id = ${blockerId} ${afterClause}
    ORDER BY floor(extract(epoch FROM b.blocked_at) * 1000000)::int8 DESC, b.blocked_id DESC
    LIMIT ${limit}`);
  return rows.map((r) => ({ cyphrId: r.cyphr_id, blockedAt: r.blocked_at, cursor: { blockedAtMicros: r.micros, blockedId: r.blocked_id } }));
}

/** The account behind a Cyphr ID, or null. */
export async function userIdOf(db: Db, cyphrId: string): Promise<string | null> {
  return db.maybeOneFirst(sql.type(z.object({ id: uuid }))`/* privacyUserIdOf */ SELECT id FROM identities WHERE cyphr_id = ${cyphrId}`);
}
