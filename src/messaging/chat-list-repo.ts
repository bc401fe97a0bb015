import { sql } from "slonik";
import { z } from "zod";
import { type ChatKind, type LeftReason, MLS_COMMIT_MESSAGE_TYPE, type Role } from "../chats/model.js";
import { bytes, type Db, timestamp, uuid } from "../db/types.js";
import { hiddenFrom } from "./repo.js";

const chatRow = z.object({
  id: uuid,
  kind: z.number(),
  encrypted_name: bytes.nullable(),
  group_version: z.number(),
  protocol: z.number(),
  mls_epoch: z.string().nullable(),
  mls_ciphersuite: z.number().nullable(),
  timer_seconds: z.number().nullable(),
  activity_at: timestamp,
  activity_us: z.string(),
  last_seq: z.number(),
  role: z.number(),
  left_reason: z.number().nullable(),
  read_seq: z.number(),
  delivered_seq: z.number(),
  member_count: z.number(),
  unread_count: z.number(),
  peer_id: uuid.nullable(),
  peer_cyphr_id: z.string().nullable(),
  peer_display_name: z.string().nullable(),
  request: z.boolean(),
});

export interface ChatSummary {
  chatId: string;
  kind: ChatKind;
  encryptedName: Uint8Array | null;
  groupVersion: number;
  /** 1 = OPAQUE, 2 = MLS; MLS chats also have their epoch (int8, exact) and suite. */
  protocol: number;
  mls: { epoch: bigint; ciphersuite: number } | null;
  timerSeconds: number | null;
  lastActivityAt: Date;
  /** Sort key for paging (exact to the microsecond, unlike Date). */
  activityMicros: string;
  lastSeq: number;
  role: Role;
  leftReason: LeftReason | null;
  readSeq: number;
  deliveredSeq: number;
  memberCount: number;
  unreadCount: number;
  peer: { userId: string; cyphrId: string; displayName: string | null } | null;
  /** A message request for the user (cyphr.privacy.v1). */
  request: boolean;
}

/** Which chats ListChats returns: all, those that are not a request, or requests only. Declined requests never. */
export type ChatListFilter = "all" | "accepted" | "requests";

/** Position in the ListChats order: activity time (µs since epoch) descending, then chat id descending. */
export interface ChatCursor {
  activityMicros: string;
  chatId: string;
}

/**
 * The user's chats by last activity they can see (a former member's activity stops at
 * their departure), with unread counts over visible, undeleted messages from others
 * (MLS commits are protocol messages, not something to read, so they are not counted).
 */
export async function listChatsOf(db: Db, userId: string, after: ChatCursor | null, limit: number, filter: ChatListFilter = "all"): Promise<ChatSummary[]> {
  const requests =
    filter === "accepted" ? sql.fragment`AND q.chat_id IS NULL` : filter === "requests" ? sql.fragment`AND q.chat_id IS NOT NULL` : sql.fragment``;
  const cursor = after ? sql.fragment`AND (activity_us::bigint, id) < (${after.activityMicros}::bigint, ${after.chatId}::uuid)` : sql.fragment``;
  const rows = await db.any(sql.type(chatRow)`
    /* listChatsOf */
    SELECT * FROM (
      SELECT c.id, c.kind, c.encrypted_name, c.group_version, c.protocol, c.mls_epoch::text AS mls_epoch, c.mls_ciphersuite, c.timer_seconds,
        CASE WHEN hid.covers_top THEN coalesce(vis.created_at, c.created_at)
             WHEN m.left_at IS NULL THEN c.last_activity_at ELSE least(c.last_activity_at, m.left_at) END AS activity_at,
        CASE WHEN hid.covers_top THEN coalesce(vis.seq, 0) ELSE coalesce(m.left_seq, c.last_seq) END AS last_seq,
        m.role, m.left_reason, m.read_seq, m.delivered_seq,
        (SELECT count(*)::int FROM chat_members x WHERE x.chat_id = c.id AND x.left_seq IS NULL) AS member_count,
        (SELECT count(*)::int FROM messages msg
          WHERE msg.chat_id = c.id AND msg.seq > greatest(m.read_seq, m.joined_seq - 1)
            AND msg.seq <= coalesce(m.left_seq, c.last_seq)
            AND msg.sender_id IS DISTINCT FROM m.user_id AND msg.sender_id IS NOT NULL
            AND msg.message_type <> ${MLS_COMMIT_MESSAGE_TYPE}
            AND msg.deleted_at IS NULL AND (msg.expires_at IS NULL OR msg.expires_at > now())
            AND NOT ${hiddenFrom(sql.fragment`m.user_id`, "msg")}) AS unread_count,
        p.id AS peer_id, p.cyphr_id AS peer_cyphr_id, p.display_name AS peer_display_name,
        q.chat_id IS NOT NULL AS request
      FROM chat_members m
      JOIN chats c ON c.id = m.chat_id
      LEFT JOIN identities p ON c.kind = 1
        AND p.id = CASE WHEN c.direct_user_low = m.user_id THEN c.direct_user_high ELSE c.direct_user_low END
      LEFT JOIN chat_requests q ON q.chat_id = m.chat_id AND q.user_id = m.user_id
      -- The newest message the member can see is the chat's last one unless that one is hidden from them.
      CROSS JOIN LATERAL (
        SELECT coalesce(max(h.seq) >= coalesce(m.left_seq, c.last_seq), false) AS covers_top
        FROM hidden_messages h WHERE h.user_id = m.user_id AND h.chat_id = m.chat_id
      ) hid
      LEFT JOIN LATERAL (
        SELECT v.seq, v.created_at FROM messages v
        WHERE hid.covers_top AND v.chat_id = m.chat_id AND v.seq <= coalesce(m.left_seq, c.last_seq) AND NOT ${hiddenFrom(sql.fragment`m.user_id`, "v")}
        ORDER BY v.seq DESC LIMIT 1
      ) vis ON true
      WHERE m.user_id = ${userId} AND q.declined_at IS NULL ${requests}
    ) chats
    CROSS JOIN LATERAL (SELECT (extract(epoch FROM activity_at) * 1000000)::bigint::text AS activity_us) us
    WHERE TRUE ${cursor}
    ORDER BY activity_us::bigint DESC, id DESC
    LIMIT ${limit}`);
  return rows.map((row) => ({
    chatId: row.id,
    kind: row.kind as ChatKind,
    encryptedName: row.encrypted_name,
    groupVersion: row.group_version,
    protocol: row.protocol,
    mls: row.mls_epoch === null ? null : { epoch: BigInt(row.mls_epoch), ciphersuite: row.mls_ciphersuite ?? 0 },
    timerSeconds: row.timer_seconds,
    lastActivityAt: row.activity_at,
    activityMicros: row.activity_us,
    lastSeq: row.last_seq,
    role: row.role as Role,
    leftReason: row.left_reason as LeftReason | null,
    readSeq: row.read_seq,
    deliveredSeq: row.delivered_seq,
    memberCount: row.member_count,
    unreadCount: row.unread_count,
    peer: row.peer_id ? { userId: row.peer_id, cyphrId: row.peer_cyphr_id!, displayName: row.peer_display_name } : null,
    request: row.request,
  }));
}
