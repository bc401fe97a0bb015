import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp, uuid } from "../db/types.js";

export async function insertSession(db: Db, session: { id: string; userId: string; deviceId: number; expiresAt: Date }): Promise<void> {
  await db.query(sql.unsafe`
    /* insertSession */
    INSERT INTO sessions (id, user_id, device_id, expires_at, acked_cursor)
    VALUES (${session.id}, ${session.userId}, ${session.deviceId}, ${sql.timestamp(session.expiresAt)},
            coalesce((SELECT last_cursor FROM event_counters WHERE user_id = ${session.userId}), 0))`);
}

export async function insertRefreshToken(db: Db, hash: Buffer, sessionId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* insertRefreshToken */
    INSERT INTO refresh_tokens (token_hash, session_id) VALUES (${sql.binary(hash)}, ${sessionId})`);
}

const presentedTokenRow = z.object({
  session_id: uuid,
  rotated_at: timestamp.nullable(),
  user_id: uuid,
  device_id: z.number(),
  cyphr_id: z.string(),
  expires_at: timestamp,
  revoked_at: timestamp.nullable(),
});
export type PresentedToken = z.infer<typeof presentedTokenRow>;

/** The refresh token's session, locked for the rest of the transaction. */
export async function lockSessionByRefreshToken(db: Db, hash: Buffer): Promise<PresentedToken | null> {
  return db.maybeOne(sql.type(presentedTokenRow)`
    /* lockSessionByRefreshToken */
    SELECT t.session_id, t.rotated_at, s.user_id, s.device_id, i.cyphr_id, s.expires_at, s.revoked_at
    FROM refresh_tokens t
    JOIN sessions s ON s.id = t.session_id
    JOIN identities i ON i.id = s.user_id
    WHERE t.token_hash = ${sql.binary(hash)}
    FOR UPDATE OF s, t`);
}

export async function markRefreshTokenRotated(db: Db, hash: Buffer): Promise<void> {
  await db.query(sql.unsafe`
    /* markRefreshTokenRotated */
    UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = ${sql.binary(hash)}`);
}

export async function extendSession(db: Db, sessionId: string, expiresAt: Date): Promise<void> {
  await db.query(sql.unsafe`
    /* extendSession */
    UPDATE sessions SET refreshed_at = now(), expires_at = ${sql.timestamp(expiresAt)} WHERE id = ${sessionId}`);
}

export async function revokeSession(db: Db, sessionId: string, reason: "logout" | "refresh_token_reuse"): Promise<void> {
  await db.query(sql.unsafe`
    /* revokeSession */
    UPDATE sessions SET revoked_at = now(), revoke_reason = ${reason}
    WHERE id = ${sessionId} AND revoked_at IS NULL`);
}

/** True when the user's session exists, is not revoked and its refresh window has not closed. */
export async function isSessionActive(db: Db, sessionId: string, userId: string): Promise<boolean> {
  return db.exists(sql.unsafe`
    /* isSessionActive */
    SELECT 1 FROM sessions
    WHERE id = ${sessionId} AND user_id = ${userId} AND revoked_at IS NULL AND expires_at > now()`);
}

export async function insertChallenge(db: Db, nonce: Buffer, cyphrId: string, expiresAt: Date): Promise<void> {
  await db.query(sql.unsafe`
    /* insertChallenge */
    INSERT INTO login_challenges (nonce, cyphr_id, expires_at)
    VALUES (${sql.binary(nonce)}, ${cyphrId}, ${sql.timestamp(expiresAt)})`);
}

/** Deletes the nonce and says whether it was valid for this id: single use even when the login then fails. */
export async function consumeChallenge(db: Db, nonce: Buffer, cyphrId: string): Promise<boolean> {
  const consumed = await db.maybeOneFirst(sql.type(z.object({ ok: z.boolean() }))`
    /* consumeChallenge */
    DELETE FROM login_challenges WHERE nonce = ${sql.binary(nonce)}
    RETURNING (cyphr_id = ${cyphrId} AND expires_at > now()) AS ok`);
  return consumed === true;
}

export async function deleteExpiredChallenges(db: Db, now: Date, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* deleteExpiredChallenges */
    DELETE FROM login_challenges WHERE nonce IN (
      SELECT nonce FROM login_challenges WHERE expires_at < ${sql.timestamp(now)} - interval '1 minute' LIMIT ${batch})`);
  return result.rowCount;
}

/**
 * Deletes sessions whose refresh token expired, or that were revoked a day ago or more
 * (long enough for a reused token to be reported as revoked), with their refresh-token
 * rows (ON DELETE CASCADE).
 */
export async function deleteEndedSessions(db: Db, now: Date, batch: number): Promise<number> {
  const at = sql.timestamp(now);
  const result = await db.query(sql.unsafe`
    /* deleteEndedSessions */
    DELETE FROM sessions WHERE id IN (
      SELECT id FROM sessions WHERE expires_at < ${at} OR revoked_at < ${at} - interval '1 day' LIMIT ${batch})`);
  return result.rowCount;
}
