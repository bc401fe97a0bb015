import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp, uuid } from "../db/types.js";
import { MAX_RECIPIENTS_PER_NOTICE } from "../delivery/notice.js";
import type { DurableEvent, DurableKind, EventData, NewDurableEvent } from "./model.js";

/**
 * Records durable events inside the caller's transaction, in one statement, through the
 * event log's one writer (cyphr_record_events, migrations/0007_event_log_writer.sql, which
 * cyphr_send_batch calls too): allocates each recipient's next cursors (counter rows locked
 * in user-id order, so concurrent writers cannot deadlock and each user's cursors commit in
 * order, without gaps), stores one row per recipient, and queues the NOTIFYs that every
 * instance receives after commit.
 */
export async function recordEvents(db: Db, events: readonly NewDurableEvent[]): Promise<void> {
  const recipientEvents: number[] = [];
  const recipientUsers: string[] = [];
  for (const [i, event] of events.entries()) {
    for (const user of event.recipients) {
      recipientEvents.push(i + 1);
      recipientUsers.push(user);
    }
  }
  if (recipientUsers.length === 0) return;
  await db.query(sql.unsafe`
    /* recordEvents */
    SELECT cyphr_record_events(
      ${sql.array(
        events.map((e) => e.kind),
        "int2",
      )}, ${sql.array(
        events.map((e) => e.chatId),
        "uuid",
      )},
      ${sql.array(
        events.map((e) => e.seq),
        "int8",
      )}, ${sql.array(
        events.map((e) => (e.data ? JSON.stringify(e.data) : null)),
        "jsonb",
      )},
      '{}'::uuid[], '{}'::timestamptz[],
      ${sql.array(recipientEvents, "int4")}, ${sql.array(recipientUsers, "uuid")}, ${MAX_RECIPIENTS_PER_NOTICE})`);
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
export async function listEvents(db: Db, userId: string, afterCursor: number, limit: number, throughCursor?: number): Promise<DurableEvent[]> {
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

/** Where one stream resumes — the session's stored ack, the user's newest cursor, the oldest one still retained (events before it were pruned) — and the first page of its replay. */
export interface ReplayStart {
  acked: number;
  last: number;
  oldest: number | null;
  /** The user's events after the requested cursor (the stored ack when none), in cursor order: what listEvents returns for it. */
  events: DurableEvent[];
}

/** One stream about to replay: its user, session and the client's resume cursor (null: the session's stored ack). */
export interface ReplayRequest {
  userId: string;
  sessionId: string;
  afterCursor: bigint | null;
}

/** A stream's bounds, with one of its events, or with none (all event columns null) when it has nothing to replay. */
const startRow = z.object({
  i: z.number(),
  acked: z.number(),
  last: z.number(),
  oldest: z.number().nullable(),
  user_id: uuid.nullable(),
  cursor: z.number().nullable(),
  kind: z.number().nullable(),
  chat_id: uuid.nullable(),
  seq: z.number().nullable(),
  data: z.record(z.unknown()).nullable(),
  created_at: timestamp.nullable(),
});

/**
 * Where each of many streams resumes, and the first listEvents page after its cursor, in one
 * statement (one snapshot for both, so the page is exactly what listEvents would read at the
 * bounds' moment). The answers are in the order of `requests`.
 */
export async function replayStarts(db: Db, requests: readonly ReplayRequest[], limit: number): Promise<ReplayStart[]> {
  if (requests.length === 0) return [];
  const rows = await db.any(sql.type(startRow)`
    /* replayStarts */
    SELECT r.i::int4 AS i, b.acked, b.last, b.oldest, e.user_id, e.cursor, e.kind, e.chat_id, e.seq, e.data, e.created_at
    FROM unnest(${sql.array(
      requests.map((r) => r.userId),
      "uuid",
    )}::uuid[], ${sql.array(
      requests.map((r) => r.sessionId),
      "uuid",
    )}::uuid[],
        ${sql.array(
          requests.map((r) => (r.afterCursor === null ? null : String(r.afterCursor))),
          "int8",
        )}::int8[])
      WITH ORDINALITY AS r (user_id, session_id, after_cursor, i)
    CROSS JOIN LATERAL (SELECT coalesce((SELECT acked_cursor FROM sessions WHERE id = r.session_id), 0) AS acked,
        coalesce((SELECT last_cursor FROM event_counters WHERE user_id = r.user_id), 0) AS last,
        (SELECT min(cursor) FROM events WHERE user_id = r.user_id) AS oldest) b
    LEFT JOIN LATERAL (SELECT user_id, cursor, kind, chat_id, seq, data, created_at FROM events
        WHERE user_id = r.user_id AND cursor > coalesce(r.after_cursor, b.acked) ORDER BY cursor LIMIT ${limit}) e ON true
    ORDER BY r.i, e.cursor`);
  const starts: ReplayStart[] = requests.map(() => ({ acked: 0, last: 0, oldest: null, events: [] }));
  for (const row of rows) {
    const start = starts[row.i - 1]!;
    Object.assign(start, { acked: row.acked, last: row.last, oldest: row.oldest });
    if (row.cursor === null || row.user_id === null || row.created_at === null) continue;
    start.events.push({
      userId: row.user_id,
      cursor: row.cursor,
      kind: row.kind as DurableKind,
      chatId: row.chat_id ?? "",
      seq: row.seq,
      data: row.data as EventData | null,
      createdAt: row.created_at,
    });
  }
  return starts;
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
    FROM unnest(${sql.array(
      acks.map((a) => a.sessionId),
      "uuid",
    )}::uuid[], ${sql.array(
      acks.map((a) => a.userId),
      "uuid",
    )}::uuid[],
        ${sql.array(
          acks.map((a) => String(a.cursor)),
          "int8",
        )}::int8[]) AS a (session_id, user_id, cursor)
    WHERE s.id = a.session_id AND s.user_id = a.user_id`);
}

/** Deletes events older than `days`; returns how many. */
export async function pruneEvents(db: Db, now: Date, days: number, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* pruneEvents */
    DELETE FROM events WHERE (user_id, cursor) IN (
      SELECT user_id, cursor FROM events WHERE created_at < ${sql.timestamp(now)} - make_interval(days => ${days}) LIMIT ${batch})`);
  return result.rowCount;
}

/** Active members of a chat: who receives its events. */
export async function activeMemberIds(db: Db, chatId: string): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* activeMemberIds */
    SELECT user_id FROM chat_members WHERE chat_id = ${chatId} AND left_seq IS NULL`);
  return [...rows];
}
