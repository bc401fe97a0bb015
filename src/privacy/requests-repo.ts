import { sql } from "slonik";
import { z } from "zod";
import { type Db, uuid } from "../db/types.js";

/** Makes `chatId` a request for `userId`, from `requesterId` (kept if it already is one). */
export async function openRequest(db: Db, chatId: string, userId: string, requesterId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* openChatRequest */
    INSERT INTO chat_requests (chat_id, user_id, requester_id) VALUES (${chatId}, ${userId}, ${requesterId}) ON CONFLICT DO NOTHING`);
}

/** Ends the request, open or declined (accepted, or replied to); returns who made it, or undefined when there was none. */
export async function closeRequest(db: Db, chatId: string, userId: string): Promise<{ requesterId: string | null } | undefined> {
  const row = await db.maybeOne(sql.type(z.object({ requester_id: uuid.nullable() }))`
    /* closeChatRequest */
    DELETE FROM chat_requests WHERE chat_id = ${chatId} AND user_id = ${userId} RETURNING requester_id`);
  return row ? { requesterId: row.requester_id } : undefined;
}

/** Declines an open request; false when there was none open. */
export async function declineRequest(db: Db, chatId: string, userId: string): Promise<boolean> {
  const result = await db.query(sql.unsafe`
    /* declineChatRequest */
    UPDATE chat_requests SET declined_at = now() WHERE chat_id = ${chatId} AND user_id = ${userId} AND declined_at IS NULL`);
  return result.rowCount > 0;
}

/** The chat is an open (not declined) request for the user. */
export async function isOpenRequest(db: Db, chatId: string, userId: string): Promise<boolean> {
  return db.exists(sql.unsafe`/* isOpenChatRequest */ SELECT 1 FROM chat_requests WHERE chat_id = ${chatId} AND user_id = ${userId} AND declined_at IS NULL`);
}

/** Declines every open request from `requesterId` to `userId` (blocking them); returns how many. */
export async function declineRequestsFrom(db: Db, userId: string, requesterId: string): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* declineChatRequestsFrom */
    UPDATE chat_requests SET declined_at = now() WHERE user_id = ${userId} AND requester_id = ${requesterId} AND declined_at IS NULL`);
  return result.rowCount;
}

/**
 * For a message `senderId` stores in `chatId`: a request the sender had in the chat ends (a
 * reply accepts it, in a group too); in a direct chat the sender accepts the peer (writing
 * to someone accepts them) and the chat becomes a request for the peer unless the peer
 * accepted the sender. When the peer blocked the sender, nothing of it may show for the
 * peer: a chat the peer never wrote in becomes a declined request (as blocking declines
 * open requests), and one the peer wrote in keeps its state. One statement; answers the peer
 * when this send is the sender's first acceptance of them (the sender's presence audience grew).
 */
export async function recordDirectSend(db: Db, chatId: string, senderId: string): Promise<string | null> {
  return db.maybeOneFirst(sql.type(z.object({ peer: uuid }))`
    /* recordDirectSend */
    WITH chat AS (
      SELECT CASE WHEN direct_user_low = ${senderId} THEN direct_user_high ELSE direct_user_low END AS peer
      FROM chats WHERE id = ${chatId} AND kind = 1 AND ${senderId} IN (direct_user_low, direct_user_high)
    ),
    accepted AS (
      INSERT INTO contacts (user_id, contact_id)
      SELECT ${senderId}, chat.peer FROM chat JOIN identities i ON i.id = chat.peer ON CONFLICT DO NOTHING
      RETURNING contact_id AS peer
    ),
    replied AS (DELETE FROM chat_requests WHERE chat_id = ${chatId} AND user_id = ${senderId}),
    peer AS (
      SELECT chat.peer AS id, EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = chat.peer AND b.blocked_id = ${senderId}) AS blocked
      FROM chat JOIN identities i ON i.id = chat.peer
      WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.user_id = chat.peer AND c.contact_id = ${senderId})
    ),
    opened AS (
      INSERT INTO chat_requests (chat_id, user_id, requester_id, declined_at)
      SELECT ${chatId}, peer.id, ${senderId}, CASE WHEN peer.blocked THEN now() END FROM peer
      WHERE NOT peer.blocked OR NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = ${chatId} AND m.sender_id = peer.id)
      ON CONFLICT DO NOTHING
    )
    SELECT peer FROM accepted`);
}

/** Whether `chatId` is a request for a user, and whether they declined it. */
export type RequestState = "open" | "declined";

/** Of `userIds`, those for whom `chatId` is a request, open or declined (the others are absent). */
export async function requestStates(db: Db, chatId: string, userIds: readonly string[]): Promise<Map<string, RequestState>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.any(sql.type(z.object({ user_id: uuid, declined: z.boolean() }))`
    /* chatRequestStates */
    SELECT user_id, declined_at IS NOT NULL AS declined FROM chat_requests
    WHERE chat_id = ${chatId} AND user_id = ANY (${sql.array(userIds, "uuid")})`);
  return new Map(rows.map((r) => [r.user_id, r.declined ? "declined" : "open"]));
}
