import { sql } from "slonik";
import { z } from "zod";
import { timestamp, uuid, type Db } from "../db/types.js";
import type { DurableNotice } from "./channel.js";
import type { DurableEvent, DurableKind, EventData, NewDurableEvent } from "./model.js";
import { notify } from "./notify.js";

const allocated = z.object({ user_id: uuid, last_cursor: z.number() });

/**
 * Records durable events inside the caller's transaction: allocates each recipient's
 * next cursors (locking their counter rows in user-id order, so concurrent writers cannot
 * deadlock and each user's cursors commit in order, without gaps), stores one row per
 * recipient, and queues a NOTIFY that other instances receive after commit.
 */
export async function recordEvents(db: Db, events: readonly NewDurableEvent[]): Promise<void> {
  const counts = new Map<string, number>();
  for (const event of events) for (const user of event.recipients) counts.set(user, (counts.get(user) ?? 0) + 1);
  if (counts.size === 0) return;
  const users = [...counts.keys()].sort();
  const rows = await db.any(sql.type(allocated)`
    /* allocateEventCursors */
    INSERT INTO event_counters (user_id, last_cursor)
    SELECT u, n FROM unnest(${sql.array(users, "uuid")}::uuid[], ${sql.array(users.map((u) => counts.get(u)!), "int8")}::int8[])
      WITH ORDINALITY AS t (u, n, i)
    ORDER BY i
    ON CONFLICT (user_id) DO UPDATE SET last_cursor = event_counters.last_cursor + excluded.last_cursor
    RETURNING user_id, last_cursor`);
  // Hand out each user's range in event order.
  const next = new Map(rows.map((r) => [r.user_id, r.last_cursor - counts.get(r.user_id)! + 1]));
  const inserts: (string | number | null)[][] = [];
  const notices: DurableNotice[] = [];
  const now = Date.now();
  for (const event of events) {
    const recipients: [string, number][] = [];
    for (const user of event.recipients) {
      const cursor = next.get(user)!;
      next.set(user, cursor + 1);
      recipients.push([user, cursor]);
      inserts.push([user, cursor, event.kind, event.chatId, event.seq, event.data ? JSON.stringify(event.data) : null]);
    }
    notices.push({ t: "d", k: event.kind, c: event.chatId, s: event.seq, d: (event.data as Record<string, unknown>) ?? null, at: now, u: recipients });
  }
  await db.query(sql.unsafe`
    /* insertEvents */
    INSERT INTO events (user_id, cursor, kind, chat_id, seq, data)
    SELECT * FROM ${sql.unnest(inserts, ["uuid", "int8", "int2", "uuid", "int8", "jsonb"])}`);
  await notify(db, notices);
}

const eventRow = z.object({
  user_id: uuid,
  cursor: z.number(),
  kind: z.number(),
  chat_id: uuid.nullable(),
  seq: z.number().nullable(),
  data: z.record(z.unknown()).nullable(),
  created_at: timestamp,
});

/** The user's events after `afterCursor` (up to `throughCursor` if given), in cursor order. */
export async function listEvents(
  db: Db,
  userId: string,
  afterCursor: number,
  limit: number,
  throughCursor?: number,
): Promise<DurableEvent[]> {
  const upper = throughCursor === undefined ? sql.fragment`` : sql.fragment`AND cursor <= ${throughCursor}`;
  const rows = await db.any(sql.type(eventRow)`
    /* listEvents */
    SELECT user_id, cursor, kind, chat_id, seq, data, created_at FROM events
    WHERE user_id = ${userId} AND cursor > ${afterCursor} ${upper}
    ORDER BY cursor
    LIMIT ${limit}`);
  return rows.map((r) => ({
    userId: r.user_id,
    cursor: r.cursor,
    kind: r.kind as DurableKind,
    chatId: r.chat_id ?? "",
    seq: r.seq,
    data: r.data as EventData | null,
    createdAt: r.created_at,
  }));
}

const resumeRow = z.object({ acked: z.number(), last: z.number(), oldest: z.number().nullable() });

/**
 * Where a stream of the session resumes, in one statement: the session's stored ack, the
 * user's newest cursor, and the oldest one still retained (events before it were pruned).
 */
export async function resumePoint(db: Db, userId: string, sessionId: string): Promise<z.infer<typeof resumeRow>> {
  return db.one(sql.type(resumeRow)`
    /* resumePoint */
    SELECT coalesce((SELECT acked_cursor FROM sessions WHERE id = ${sessionId}), 0) AS acked,
      coalesce((SELECT last_cursor FROM event_counters WHERE user_id = ${userId}), 0) AS last,
      (SELECT min(cursor) FROM events WHERE user_id = ${userId}) AS oldest`);
}

/** A session's highest processed cursor, as a client acked it (at most INT8_MAX). */
export interface SessionAck {
  sessionId: string;
  userId: string;
  cursor: bigint;
}

/**
 * Advances many sessions' stored acks in one statement, never backwards, never past
 * each user's last cursor. Cursors are the clients' values (at most INT8_MAX), compared exactly in SQL.
 */
export async function storeAcks(db: Db, acks: readonly SessionAck[]): Promise<void> {
  if (acks.length === 0) return;
  await db.query(sql.unsafe`
    /* storeAcks */
    UPDATE sessions s SET acked_cursor = greatest(s.acked_cursor,
        least(a.cursor, coalesce((SELECT last_cursor FROM event_counters c WHERE c.user_id = a.user_id), 0)))
    FROM unnest(${sql.array(acks.map((a) => a.sessionId), "uuid")}::uuid[], ${sql.array(acks.map((a) => a.userId), "uuid")}::uuid[],
        ${sql.array(acks.map((a) => String(a.cursor)), "int8")}::int8[]) AS a (session_id, user_id, cursor)
    WHERE s.id = a.session_id AND s.user_id = a.user_id`);
}

/** Deletes events older than `days`; returns how many. */
export async function pruneEvents(db: Db, days: number, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* pruneEvents */
    DELETE FROM events WHERE (user_id, cursor) IN (
      SELECT user_id, cursor FROM events WHERE created_at < now() - make_interval(days => ${days}) LIMIT ${batch})`);
  return result.rowCount;
}

/** Active members of a chat: who receives its events. */
export async function activeMemberIds(db: Db, chatId: string): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* activeMemberIds */
    SELECT user_id FROM chat_members WHERE chat_id = ${chatId} AND left_seq IS NULL`);
  return [...rows];
}
