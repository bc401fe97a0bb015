import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp } from "../db/types.js";

/** A factor whose attempts are limited per account. */
export type Factor = "pin" | "totp";

const attemptsRow = z.object({ failures: z.number(), locked_until: timestamp.nullable() });

/**
 * The factor's failure count and lock. Attempts of one account and factor run one at a
 * time (a transaction-scoped advisory lock, taken even before the first failure has a
 * row), so parallel guesses cannot all pass the lock check before any failure is counted.
 */
export async function lockAttempts(db: Db, userId: string, factor: Factor): Promise<{ failures: number; lockedUntil: Date | null }> {
  await db.query(sql.unsafe`
    /* lockAccountAttemptsKey */
    SELECT pg_advisory_xact_lock(hashtextextended(${`account_attempts:${factor}:${userId}`}, 0))`);
  const row = await db.maybeOne(sql.type(attemptsRow)`
    /* lockAccountAttempts */
    SELECT failures, locked_until FROM account_attempts WHERE user_id = ${userId} AND factor = ${factor} FOR UPDATE`);
  return { failures: row?.failures ?? 0, lockedUntil: row?.locked_until ?? null };
}

export async function saveFailure(db: Db, userId: string, factor: Factor, failures: number, lockedUntil: Date | null): Promise<void> {
  await db.query(sql.unsafe`
    /* saveAccountAttemptFailure */
    INSERT INTO account_attempts (user_id, factor, failures, locked_until)
    VALUES (${userId}, ${factor}, ${failures}, ${lockedUntil ? sql.timestamp(lockedUntil) : null})
    ON CONFLICT (user_id, factor) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until`);
}

export async function clearAttempts(db: Db, userId: string, factor: Factor): Promise<void> {
  await db.query(sql.unsafe`
    /* clearAccountAttempts */
    DELETE FROM account_attempts WHERE user_id = ${userId} AND factor = ${factor}`);
}
