import { createHmac } from "node:crypto";
import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp } from "../db/types.js";

/**
 * A deleted account's Cyphr ID cannot be registered again for a while (so nobody takes
 * over a name its contacts still trust). Only a keyed hash of the id is kept:
 * HMAC-SHA-256(server fingerprint secret, "cyphr-id" ‖ 0x00 ‖ cyphr_id).
 */
export function cyphrIdHmac(secret: Buffer, cyphrId: string): Buffer {
  return createHmac("sha256", secret).update("cyphr-id\0").update(cyphrId, "ascii").digest();
}

/** Until when the id is quarantined, or null when it may be registered. */
export async function quarantinedUntil(db: Db, secret: Buffer, cyphrId: string): Promise<Date | null> {
  return db.maybeOneFirst(sql.type(z.object({ until: timestamp }))`
    /* quarantinedUntil */
    SELECT until FROM quarantined_cyphr_ids WHERE cyphr_id_hmac = ${sql.binary(cyphrIdHmac(secret, cyphrId))} AND until > now()`);
}

export async function quarantineCyphrId(db: Db, secret: Buffer, cyphrId: string, until: Date): Promise<void> {
  await db.query(sql.unsafe`
    /* quarantineCyphrId */
    INSERT INTO quarantined_cyphr_ids (cyphr_id_hmac, until) VALUES (${sql.binary(cyphrIdHmac(secret, cyphrId))}, ${sql.timestamp(until)})
    ON CONFLICT (cyphr_id_hmac) DO UPDATE SET until = greatest(quarantined_cyphr_ids.until, excluded.until)`);
}

/** Forgets quarantines that have ended, at most `batch` a call. */
export async function purgeEndedQuarantines(db: Db, now: Date, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* purgeEndedQuarantines */
    DELETE FROM quarantined_cyphr_ids WHERE cyphr_id_hmac IN (
      SELECT cyphr_id_hmac FROM quarantined_cyphr_ids WHERE until <= ${sql.timestamp(now)} LIMIT ${batch})`);
  return result.rowCount;
}
