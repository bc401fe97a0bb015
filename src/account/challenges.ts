import { randomBytes } from "node:crypto";
import { sql } from "slonik";
import { z } from "zod";
import type { Db } from "../db/types.js";

/** What a nonce of account_challenges may be used for (its purpose column). */
export const ChallengePurpose = { recovery: 1, deletion: 2 } as const;
export type ChallengePurpose = (typeof ChallengePurpose)[keyof typeof ChallengePurpose];

export const ACCOUNT_CHALLENGE_TTL_MS = 60_000;
export const ACCOUNT_NONCE_BYTES = 32;

/** Issues a single-use nonce for `purpose`, bound to the Cyphr ID. */
export async function issueChallenge(db: Db, purpose: ChallengePurpose, cyphrId: string): Promise<{ nonce: Buffer; expiresAt: Date }> {
  const nonce = randomBytes(ACCOUNT_NONCE_BYTES);
  const expiresAt = new Date(Date.now() + ACCOUNT_CHALLENGE_TTL_MS);
  await db.query(sql.unsafe`
    /* insertAccountChallenge */
    INSERT INTO account_challenges (nonce, purpose, cyphr_id, expires_at)
    VALUES (${sql.binary(nonce)}, ${purpose}, ${cyphrId}, ${sql.timestamp(expiresAt)})`);
  return { nonce, expiresAt };
}

/** Deletes the nonce and says whether it was valid for this purpose and id: single use even when the call then fails. */
export async function consumeChallenge(db: Db, purpose: ChallengePurpose, nonce: Uint8Array, cyphrId: string): Promise<boolean> {
  const ok = await db.maybeOneFirst(sql.type(z.object({ ok: z.boolean() }))`
    /* consumeAccountChallenge */
    DELETE FROM account_challenges WHERE nonce = ${sql.binary(Buffer.from(nonce))}
    RETURNING (purpose = ${purpose} AND cyphr_id = ${cyphrId} AND expires_at > now()) AS ok`);
  return ok === true;
}

/** Removes nonces that can no longer be used, at most `batch` a call. */
export async function purgeAccountChallenges(db: Db, now: Date, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* purgeAccountChallenges */
    DELETE FROM account_challenges WHERE nonce IN (
      SELECT nonce FROM account_challenges WHERE expires_at < ${sql.timestamp(now)} - interval '1 minute' LIMIT ${batch})`);
  return result.rowCount;
}
