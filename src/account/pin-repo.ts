import { sql } from "slonik";
import { z } from "zod";
import type { Db } from "../db/types.js";

/** The account's PIN hash, or null when no PIN is set. */
export async function findPinHash(db: Db, userId: string): Promise<string | null> {
  return db.maybeOneFirst(sql.type(z.object({ pin_hash: z.string() }))`
    /* findPinHash */
    SELECT pin_hash FROM account_pins WHERE user_id = ${userId}`);
}

export async function savePinHash(db: Db, userId: string, hash: string): Promise<void> {
  await db.query(sql.unsafe`
    /* savePinHash */
    INSERT INTO account_pins (user_id, pin_hash) VALUES (${userId}, ${hash})
    ON CONFLICT (user_id) DO UPDATE SET pin_hash = excluded.pin_hash, set_at = now()`);
}

/** Replaces the hash only if it is still `previous` (a concurrent change wins). */
export async function replacePinHash(db: Db, userId: string, previous: string, hash: string): Promise<void> {
  await db.query(sql.unsafe`
    /* rehashPin */
    UPDATE account_pins SET pin_hash = ${hash} WHERE user_id = ${userId} AND pin_hash = ${previous}`);
}

export async function deletePin(db: Db, userId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* deletePin */
    DELETE FROM account_pins WHERE user_id = ${userId}`);
}
