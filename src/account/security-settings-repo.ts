import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp } from "../db/types.js";
import type { Factor } from "./attempts-repo.js";

/** What is set on an account, as stored: days are midnight UTC, locks as written (maybe past). */
export interface StoredSecuritySettings {
  recoveryKeySetDate: Date | null;
  pinSetDate: Date | null;
  totp: "off" | "pending" | "on";
  totpEnabledDate: Date | null;
  lockedUntil: Record<Factor, Date | null>;
}

const day = z.string().nullable();
const settingsRow = z.object({
  recovery_set_on: day,
  pin_set_on: day,
  totp_enrolled: z.boolean(),
  totp_confirmed_on: day,
  pin_locked_until: timestamp.nullable(),
  totp_locked_until: timestamp.nullable(),
});

const toDay = (value: string | null) => (value === null ? null : new Date(`${value}T00:00:00Z`));

export async function findSecuritySettings(db: Db, userId: string): Promise<StoredSecuritySettings> {
  const row = await db.one(sql.type(settingsRow)`
    /* findSecuritySettings */
    SELECT
      (SELECT to_char(set_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM account_recovery_keys WHERE user_id = ${userId}) AS recovery_set_on,
      (SELECT to_char(set_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM account_pins WHERE user_id = ${userId}) AS pin_set_on,
      EXISTS (SELECT 1 FROM account_totp WHERE user_id = ${userId}) AS totp_enrolled,
      (SELECT to_char(confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM account_totp WHERE user_id = ${userId}) AS totp_confirmed_on,
      (SELECT locked_until FROM account_attempts WHERE user_id = ${userId} AND factor = 'pin') AS pin_locked_until,
      (SELECT locked_until FROM account_attempts WHERE user_id = ${userId} AND factor = 'totp') AS totp_locked_until`);
  const totpEnabledDate = toDay(row.totp_confirmed_on);
  return {
    recoveryKeySetDate: toDay(row.recovery_set_on),
    pinSetDate: toDay(row.pin_set_on),
    totp: totpEnabledDate ? "on" : row.totp_enrolled ? "pending" : "off",
    totpEnabledDate,
    lockedUntil: { pin: row.pin_locked_until, totp: row.totp_locked_until },
  };
}
