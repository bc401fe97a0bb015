import { sql } from "slonik";
import { z } from "zod";
import { bytes, type Db, timestamp } from "../db/types.js";

export interface TotpEnrolment {
  sealed: Buffer;
  confirmedAt: Date | null;
  /** The highest time step whose code was accepted. */
  lastStep: number;
}

const totpRow = z.object({ secret_sealed: bytes, confirmed_at: timestamp.nullable(), last_step: z.number() });

/** The account's TOTP enrolment (pending or confirmed), its row locked with "lock". */
async function selectTotp(db: Db, userId: string, lock: "lock" | "read"): Promise<TotpEnrolment | null> {
  const row = await db.maybeOne(sql.type(totpRow)`
    /* findTotp */
    SELECT secret_sealed, confirmed_at, last_step FROM account_totp WHERE user_id = ${userId}
    ${lock === "lock" ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
  return row ? { sealed: row.secret_sealed, confirmedAt: row.confirmed_at, lastStep: row.last_step } : null;
}

export const findTotp = (db: Db, userId: string) => selectTotp(db, userId, "read");
export const lockTotp = (db: Db, userId: string) => selectTotp(db, userId, "lock");

/** Starts (or restarts) a pending enrolment; a confirmed one is left alone (returns false). */
export async function savePendingTotp(db: Db, userId: string, sealed: Buffer): Promise<boolean> {
  const result = await db.query(sql.unsafe`
    /* savePendingTotp */
    INSERT INTO account_totp (user_id, secret_sealed) VALUES (${userId}, ${sql.binary(sealed)})
    ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = 0, created_at = now()
    WHERE account_totp.confirmed_at IS NULL`);
  return result.rowCount === 1;
}

/** Records an accepted code's step, and confirms a pending enrolment. */
export async function acceptTotpStep(db: Db, userId: string, step: number): Promise<void> {
  await db.query(sql.unsafe`
    /* acceptTotpStep */
    UPDATE account_totp SET last_step = ${step}, confirmed_at = coalesce(confirmed_at, now()) WHERE user_id = ${userId}`);
}

export async function deleteTotp(db: Db, userId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* deleteTotp */
    DELETE FROM account_totp WHERE user_id = ${userId}`);
}
