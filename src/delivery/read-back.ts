import { sql } from "slonik";
import type { Db } from "../db/types.js";
import type { StoredMessage } from "../messaging/model.js";
import { IDENTITY_JOINS, MESSAGE_COLUMNS, messageRow, NOT_EXPIRED, toMessage } from "../messaging/repo.js";
import type { RecentSends } from "./recent-sends.js";

/** A message a durable event refers to: by chat and seq, and by id when a send of this instance wrote it. */
export interface MessageRef {
  chatId: string;
  seq: number;
  sent?: { messageId: string; createdAt: Date; expiresAt: Date | null };
}

/** The key messages are looked up by. */
export const messageKey = (chatId: string, seq: number) => `${chatId}:${seq}`;

/** Delivery's expiry rule, the one history applies in SQL (NOT_EXPIRED): an expired message is not shown. */
const isExpired = (expiresAt: Date | null, now = Date.now()) => expiresAt !== null && expiresAt.getTime() <= now;

/**
 * The messages durable events refer to, not expired, keyed by messageKey: those this
 * instance just sent from RecentSends, the others read back in one query. Missing ones
 * (expired, or gone) are absent.
 */
export async function messagesFor(db: Db, refs: readonly MessageRef[], recentSends?: RecentSends): Promise<Map<string, StoredMessage>> {
  const found = new Map<string, StoredMessage>();
  const unread: MessageRef[] = [];
  const now = Date.now();
  for (const ref of refs) {
    const sent = ref.sent && recentSends?.message(ref.sent.messageId, ref.seq, ref.sent.createdAt, ref.sent.expiresAt);
    if (!sent) unread.push(ref);
    else if (!isExpired(sent.expiresAt, now)) found.set(messageKey(ref.chatId, ref.seq), sent);
  }
  for (const [key, message] of await findMessagesByRef(db, unread)) found.set(key, message);
  return found;
}

/**
 * Messages by (chat, seq), not expired, keyed by messageKey; missing ones are absent. No
 * receipt counts (events carry the same message to every member). The chat ids are also
 * given as a plain list, so the planner prunes `messages` to their partitions instead of
 * planning a join against every partition: this runs on every replay chunk of every
 * reconnecting stream.
 */
export async function findMessagesByRef(db: Db, refs: readonly { chatId: string; seq: number }[]): Promise<Map<string, StoredMessage>> {
  if (refs.length === 0) return new Map();
  const chats = [...new Set(refs.map((r) => r.chatId))];
  const rows = await db.any(sql.type(messageRow)`
    /* findMessagesByRef */
    SELECT ${MESSAGE_COLUMNS}, NULL::int AS recipient_count, NULL::int AS delivered_count, NULL::int AS read_count
    FROM messages m
    ${IDENTITY_JOINS}
    JOIN unnest(${sql.array(
      refs.map((r) => r.chatId),
      "uuid",
    )}::uuid[], ${sql.array(
      refs.map((r) => r.seq),
      "int8",
    )}::int8[])
      AS ref (chat_id, seq) ON ref.chat_id = m.chat_id AND ref.seq = m.seq
    WHERE m.chat_id = ANY(${sql.array(chats, "uuid")}::uuid[]) AND ${NOT_EXPIRED}`);
  return new Map(rows.map((row) => [messageKey(row.chat_id, row.seq), toMessage(row)]));
}
