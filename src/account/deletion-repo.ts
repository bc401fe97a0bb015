import { sql } from "slonik";
import { z } from "zod";
import { type Db, uuid } from "../db/types.js";

const ROLE_ADMIN = 2;
const GROUP_KIND = 2;
const MLS_COMMIT_MESSAGE_TYPE = 8;

export interface GroupStanding {
  chatId: string;
  isAdmin: boolean;
  otherAdmins: number;
  /** The longest-standing other active member, or null when nobody else is left. */
  successor: string | null;
}

const standingRow = z.object({ chat_id: uuid, is_admin: z.boolean(), other_admins: z.number(), successor: uuid.nullable() });

/** The groups the user is an active member of, each locked, with what deletion decides from. */
export async function lockActiveGroups(db: Db, userId: string): Promise<GroupStanding[]> {
  const rows = await db.any(sql.type(standingRow)`
    /* lockDeletedUsersGroups */
    SELECT c.id AS chat_id, m.role = ${ROLE_ADMIN} AS is_admin,
      (SELECT count(*)::int FROM chat_members o
        WHERE o.chat_id = c.id AND o.user_id <> ${userId} AND o.left_seq IS NULL AND o.role = ${ROLE_ADMIN}) AS other_admins,
      (SELECT o.user_id FROM chat_members o
        WHERE o.chat_id = c.id AND o.user_id <> ${userId} AND o.left_seq IS NULL
        ORDER BY o.joined_at, o.user_id LIMIT 1) AS successor
    FROM chat_members m JOIN chats c ON c.id = m.chat_id
    WHERE m.user_id = ${userId} AND m.left_seq IS NULL AND c.kind = ${GROUP_KIND}
    ORDER BY c.id
    FOR UPDATE OF c`);
  return rows.map((r) => ({ chatId: r.chat_id, isAdmin: r.is_admin, otherAdmins: r.other_admins, successor: r.successor }));
}

/** Removes a group nobody is left in: its messages, then the chat (members, calls, Welcomes by cascade) and its events. */
export async function deleteEmptyGroup(db: Db, chatId: string): Promise<void> {
  await db.query(sql.unsafe`/* deleteEmptyGroupMessages */ DELETE FROM messages WHERE chat_id = ${chatId}`);
  await db.query(sql.unsafe`/* deleteEmptyGroupEvents */ DELETE FROM events WHERE chat_id = ${chatId}`);
  await db.query(sql.unsafe`/* deleteEmptyGroup */ DELETE FROM chats WHERE id = ${chatId}`);
}

/** Every chat the user was ever a member of. */
export async function chatsOf(db: Db, userId: string): Promise<string[]> {
  return [
    ...(await db.anyFirst(sql.type(z.object({ chat_id: uuid }))`
    /* deletedUsersChats */
    SELECT chat_id FROM chat_members WHERE user_id = ${userId}`)),
  ];
}

/**
 * What stays of the user in other people's chats is re-attributed to `ghost`, a random
 * id that names no account: sent messages become tombstones without ciphertext (MLS
 * commits keep their bytes, which later members need to follow the group's epochs),
 * system messages and queued events name the ghost, direct chats keep the peer.
 */
export async function reattributeToGhost(db: Db, userId: string, ghost: string, chatIds: readonly string[]): Promise<void> {
  const chats = sql.array(chatIds, "uuid");
  await db.query(sql.unsafe`
    /* tombstoneDeletedUsersMessages */
    UPDATE messages SET sender_id = ${ghost}, client_message_id = NULL,
      kem_ciphertext = CASE WHEN message_type = ${MLS_COMMIT_MESSAGE_TYPE} THEN kem_ciphertext END,
      ciphertext = CASE WHEN message_type = ${MLS_COMMIT_MESSAGE_TYPE} THEN ciphertext END,
      nonce = CASE WHEN message_type = ${MLS_COMMIT_MESSAGE_TYPE} THEN nonce END,
      tag = CASE WHEN message_type = ${MLS_COMMIT_MESSAGE_TYPE} THEN tag END,
      header = CASE WHEN message_type = ${MLS_COMMIT_MESSAGE_TYPE} THEN header END,
      deleted_at = CASE WHEN message_type = ${MLS_COMMIT_MESSAGE_TYPE} THEN deleted_at ELSE coalesce(deleted_at, now()) END
    WHERE chat_id = ANY(${chats}) AND sender_id = ${userId}`);
  await db.query(sql.unsafe`
    /* reattributeSystemMessages */
    UPDATE messages SET system_event = system_event
      || CASE WHEN system_event->>'actor' = ${userId} THEN jsonb_build_object('actor', ${ghost}::text) ELSE '{}'::jsonb END
      || CASE WHEN system_event->>'target' = ${userId} THEN jsonb_build_object('target', ${ghost}::text) ELSE '{}'::jsonb END
    WHERE chat_id = ANY(${chats}) AND system_event IS NOT NULL
      AND (system_event->>'actor' = ${userId} OR system_event->>'target' = ${userId})`);
  await db.query(sql.unsafe`
    /* reattributeDirectChats */
    UPDATE chats SET
      direct_user_low = least(CASE WHEN direct_user_low = ${userId} THEN ${ghost}::uuid ELSE direct_user_low END,
                              CASE WHEN direct_user_high = ${userId} THEN ${ghost}::uuid ELSE direct_user_high END),
      direct_user_high = greatest(CASE WHEN direct_user_low = ${userId} THEN ${ghost}::uuid ELSE direct_user_low END,
                                  CASE WHEN direct_user_high = ${userId} THEN ${ghost}::uuid ELSE direct_user_high END)
    WHERE direct_user_low = ${userId} OR direct_user_high = ${userId}`);
  await db.query(sql.unsafe`
    /* reattributeEvents */
    UPDATE events SET data = (data - 'identityKey' - 'cyphrId')
      || CASE WHEN data->>'user' = ${userId} THEN jsonb_build_object('user', ${ghost}::text) ELSE '{}'::jsonb END
      || CASE WHEN data->>'actor' = ${userId} THEN jsonb_build_object('actor', ${ghost}::text) ELSE '{}'::jsonb END
    WHERE user_id IN (SELECT user_id FROM chat_members WHERE chat_id = ANY(${chats}) AND user_id <> ${userId})
      AND (data->>'user' = ${userId} OR data->>'actor' = ${userId})`);
  await db.query(sql.unsafe`
    /* forgetCallAnswers */
    UPDATE calls SET answered_by = NULL, answered_session_id = NULL WHERE answered_by = ${userId}`);
}

/** Deletes the identity (and by cascade everything keyed by it) and what is keyed by its id or Cyphr ID without a foreign key. */
export async function deleteIdentity(db: Db, userId: string, cyphrId: string): Promise<void> {
  await db.query(sql.unsafe`/* deleteDeletedUsersEvents */ DELETE FROM events WHERE user_id = ${userId}`);
  await db.query(sql.unsafe`/* deleteDeletedUsersLoginChallenges */ DELETE FROM login_challenges WHERE cyphr_id = ${cyphrId}`);
  await db.query(sql.unsafe`/* deleteDeletedUsersAccountChallenges */ DELETE FROM account_challenges WHERE cyphr_id = ${cyphrId}`);
  await db.query(sql.unsafe`/* deleteIdentity */ DELETE FROM identities WHERE id = ${userId}`);
}

export async function liveSessionIds(db: Db, userId: string): Promise<string[]> {
  return [
    ...(await db.anyFirst(sql.type(z.object({ id: uuid }))`
    /* deletedUsersLiveSessions */
    SELECT id FROM sessions WHERE user_id = ${userId} AND revoked_at IS NULL`)),
  ];
}
