import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp, uuid } from "../db/types.js";

/** Why a session was revoked by the account lifecycle (sessions.revoke_reason). */
export type AdminRevokeReason = "revoked" | "recovery" | "deleted";

export interface ActiveSession {
  sessionId: string;
  deviceId: number;
  createdAt: Date;
  /** 00:00 UTC of the day of the last refresh (or of the start). */
  lastUsedDate: Date;
}

const activeSessionRow = z.object({ id: uuid, device_id: z.number(), created_at: timestamp, last_used_on: z.string() });

/** The account's active sessions, newest first, at most `limit`. */
export async function listActiveSessions(db: Db, userId: string, limit: number): Promise<ActiveSession[]> {
  const rows = await db.any(sql.type(activeSessionRow)`
    /* listActiveSessions */
    SELECT id, device_id, created_at, to_char(refreshed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS last_used_on
    FROM sessions
    WHERE user_id = ${userId} AND revoked_at IS NULL AND expires_at > now()
    ORDER BY created_at DESC, id
    LIMIT ${limit}`);
  return rows.map((row) => ({
    sessionId: row.id,
    deviceId: row.device_id,
    createdAt: row.created_at,
    lastUsedDate: new Date(`${row.last_used_on}T00:00:00Z`),
  }));
}

/** Revokes one active session of the account; false when there is none with that id. */
export async function revokeAccountSession(db: Db, userId: string, sessionId: string, reason: AdminRevokeReason): Promise<boolean> {
  const result = await db.query(sql.unsafe`
    /* revokeAccountSession */
    UPDATE sessions SET revoked_at = now(), revoke_reason = ${reason}
    WHERE id = ${sessionId} AND user_id = ${userId} AND revoked_at IS NULL AND expires_at > now()`);
  return result.rowCount === 1;
}

/** Revokes every not yet revoked session of the account except `keep`; returns their ids. */
export async function revokeAccountSessionsExcept(db: Db, userId: string, keep: string | null, reason: AdminRevokeReason): Promise<string[]> {
  const ids = await db.anyFirst(sql.type(z.object({ id: uuid }))`
    /* revokeAccountSessionsExcept */
    UPDATE sessions SET revoked_at = now(), revoke_reason = ${reason}
    WHERE user_id = ${userId} AND revoked_at IS NULL AND id IS DISTINCT FROM ${keep}::uuid
    RETURNING id`);
  return [...ids];
}
