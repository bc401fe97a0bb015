import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp, uniqueViolation, uuid } from "../db/types.js";
import { AlreadyExistsError } from "../shared/errors.js";

export const CallState = { ringing: 1, accepted: 2, ended: 3 } as const;

const callRow = z.object({
  id: uuid,
  chat_id: uuid,
  caller_id: uuid,
  caller_session_id: uuid,
  state: z.number(),
  video: z.boolean(),
  answered_by: uuid.nullable(),
  answered_session_id: uuid.nullable(),
  created_at: timestamp,
  answered_at: timestamp.nullable(),
  ring_deadline: timestamp,
});
export type CallRow = z.infer<typeof callRow>;

const CALL_COLUMNS = sql.fragment`id, chat_id, caller_id, caller_session_id, state, video, answered_by, answered_session_id,
  created_at, answered_at, ring_deadline`;

export async function insertCall(
  db: Db,
  call: { id: string; chatId: string; callerId: string; callerSessionId: string; video: boolean; ringMs: number },
): Promise<void> {
  try {
    await db.query(sql.unsafe`
      /* insertCall */
      INSERT INTO calls (id, chat_id, caller_id, caller_session_id, state, video, ring_deadline)
      VALUES (${call.id}, ${call.chatId}, ${call.callerId}, ${call.callerSessionId}, 1, ${call.video},
              now() + make_interval(secs => ${call.ringMs / 1000}))`);
  } catch (error) {
    if (uniqueViolation(error) === "calls_pkey") throw new AlreadyExistsError(`call_id ${call.id} is already in use`);
    throw error;
  }
}

export async function addParticipants(db: Db, callId: string, userIds: readonly string[]): Promise<void> {
  await db.query(sql.unsafe`
    /* addCallParticipants */
    INSERT INTO call_participants (call_id, user_id)
    SELECT ${callId}, u FROM unnest(${sql.array(userIds, "uuid")}::uuid[]) AS u`);
}

/** Of `userIds`, those taking part in another live call. */
export async function busyUsers(db: Db, userIds: readonly string[], exceptCall: string): Promise<Set<string>> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* busyUsers */
    SELECT DISTINCT user_id FROM call_participants
    WHERE live AND call_id <> ${exceptCall} AND user_id = ANY(${sql.array(userIds, "uuid")}::uuid[])`);
  return new Set(rows);
}

export async function lockCall(db: Db, callId: string): Promise<CallRow | null> {
  return db.maybeOne(sql.type(callRow)`
    /* lockCall */ SELECT ${CALL_COLUMNS} FROM calls WHERE id = ${callId} FOR UPDATE`);
}

/** Live participants of the call (the caller included). */
export async function liveParticipants(db: Db, callId: string): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* liveCallParticipants */ SELECT user_id FROM call_participants WHERE call_id = ${callId} AND live`);
  return [...rows];
}

export async function isParticipant(db: Db, callId: string, userId: string): Promise<boolean> {
  return db.exists(sql.unsafe`
    /* isCallParticipant */ SELECT 1 FROM call_participants WHERE call_id = ${callId} AND user_id = ${userId}`);
}

export async function markAccepted(db: Db, callId: string, userId: string, sessionId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* acceptCall */
    UPDATE calls SET state = 2, answered_by = ${userId}, answered_session_id = ${sessionId}, answered_at = now()
    WHERE id = ${callId}`);
}

export async function dropParticipants(db: Db, callId: string, userIds: readonly string[]): Promise<void> {
  await db.query(sql.unsafe`
    /* dropCallParticipants */
    UPDATE call_participants SET live = false
    WHERE call_id = ${callId} AND user_id = ANY(${sql.array(userIds, "uuid")}::uuid[])`);
}

export async function markEnded(db: Db, callId: string, reason: string): Promise<void> {
  await db.query(sql.unsafe`
    /* endCall */
    WITH ended AS (
      UPDATE calls SET state = 3, end_reason = ${reason}, ended_at = now() WHERE id = ${callId} RETURNING id
    )
    UPDATE call_participants SET live = false WHERE call_id IN (SELECT id FROM ended)`);
}

/** Calls still ringing past their deadline (any instance's). */
export async function overdueRingingCalls(db: Db): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ id: uuid }))`
    /* overdueRingingCalls */ SELECT id FROM calls WHERE state = 1 AND ring_deadline < now() LIMIT 100`);
  return [...rows];
}

/** Deletes call records (and their participants) that started more than `days` days before `now`. */
export async function deleteOldCalls(db: Db, now: Date, days: number, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* deleteOldCalls */
    DELETE FROM calls WHERE id IN (
      SELECT id FROM calls WHERE created_at < ${sql.timestamp(now)} - make_interval(days => ${days}) LIMIT ${batch})`);
  return result.rowCount;
}
