import { sql } from "slonik";
import { z } from "zod";
import type { Db } from "../../db/types.js";

/**
 * Takes one token from the bucket `key` (refilled at `ratePerSecond` since its last use, at
 * most `burst`), shared by every instance: the row lock orders concurrent callers (two first
 * uses racing may both find the bucket full). Returns 0 when a token was taken, else the
 * milliseconds until one will be there.
 */
export async function takeToken(db: Db, key: Buffer, ratePerSecond: number, burst: number): Promise<number> {
  const tokens = await db.oneFirst(sql.type(z.object({ tokens: z.number() }))`
    /* takeRateToken */
    WITH prev AS (SELECT tokens, updated_at FROM rate_limit_buckets WHERE key = ${sql.binary(key)} FOR UPDATE),
    calc AS (
      SELECT coalesce(least(${burst}::float8, prev.tokens + extract(epoch FROM clock_timestamp() - prev.updated_at)::float8 * ${ratePerSecond}::float8), ${burst}::float8) AS tokens
      FROM (SELECT 1) AS one LEFT JOIN prev ON true
    ),
    stored AS (
      INSERT INTO rate_limit_buckets (key, tokens, updated_at)
      SELECT ${sql.binary(key)}, CASE WHEN calc.tokens >= 1 THEN calc.tokens - 1 ELSE calc.tokens END, clock_timestamp() FROM calc
      ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at
    )
    SELECT tokens FROM calc`);
  return tokens >= 1 ? 0 : Math.max(1, Math.ceil(((1 - tokens) * 1000) / ratePerSecond));
}

/** Deletes buckets untouched for an hour (full again long before: every limiter refills its burst in well under that). */
export async function deleteIdleBuckets(db: Db, now: Date, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* deleteIdleRateBuckets */
    DELETE FROM rate_limit_buckets WHERE key IN (
      SELECT key FROM rate_limit_buckets WHERE updated_at < ${sql.timestamp(now)} - interval '1 hour' LIMIT ${batch})`);
  return result.rowCount;
}
