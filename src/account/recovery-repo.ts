import { sql } from "slonik";
import { z } from "zod";
import { bytes, type Db, uniqueViolation, uuid } from "../db/types.js";
import { AlreadyExistsError } from "../shared/errors.js";

export async function saveRecoveryKey(db: Db, userId: string, publicKey: Uint8Array, signature: Uint8Array): Promise<void> {
  await db.query(sql.unsafe`
    /* saveRecoveryKey */
    INSERT INTO account_recovery_keys (user_id, public_key, signature)
    VALUES (${userId}, ${sql.binary(Buffer.from(publicKey))}, ${sql.binary(Buffer.from(signature))})
    ON CONFLICT (user_id) DO UPDATE SET public_key = excluded.public_key, signature = excluded.signature, set_at = now()`);
}

/** What RecoverAccount checks about an account, before its transaction. */
export interface RecoverableAccount {
  userId: string;
  nextDeviceId: number;
  recoveryKey: Buffer | null;
  pinHash: string | null;
}

const recoverableRow = z.object({ id: uuid, next_device_id: z.number(), public_key: bytes.nullable(), pin_hash: z.string().nullable() });

export async function findRecoverableAccount(db: Db, cyphrId: string): Promise<RecoverableAccount | null> {
  const row = await db.maybeOne(sql.type(recoverableRow)`
    /* findRecoverableAccount */
    SELECT i.id, i.next_device_id, r.public_key, p.pin_hash
    FROM identities i
    LEFT JOIN account_recovery_keys r ON r.user_id = i.id
    LEFT JOIN account_pins p ON p.user_id = i.id
    WHERE i.cyphr_id = ${cyphrId}`);
  return row ? { userId: row.id, nextDeviceId: row.next_device_id, recoveryKey: row.public_key, pinHash: row.pin_hash } : null;
}

/** Replaces the account's identity and ML-KEM keys; another account's identity key is ALREADY_EXISTS. */
export async function replaceIdentityKeys(db: Db, userId: string, identityKey: Uint8Array, mlKemKey: Uint8Array): Promise<void> {
  try {
    await db.query(sql.unsafe`
      /* replaceIdentityKeys */
      UPDATE identities
      SET identity_public_key = ${sql.binary(Buffer.from(identityKey))}, ml_kem_public_key = ${sql.binary(Buffer.from(mlKemKey))},
          updated_at = now()
      WHERE id = ${userId}`);
  } catch (error) {
    if (uniqueViolation(error) === "identities_identity_public_key_key") {
      throw new AlreadyExistsError("identity_public_key is already the identity key of an account");
    }
    throw error;
  }
}

/**
 * Deletes every device of the account, and with them (foreign keys) their sessions,
 * refresh tokens, MLS key packages and Welcome routings; returns the ids of the sessions
 * that were still live, whose streams must end.
 */
export async function deleteAllDevices(db: Db, userId: string): Promise<string[]> {
  const live = await db.anyFirst(sql.type(z.object({ id: uuid }))`
    /* accountLiveSessionIds */
    SELECT id FROM sessions WHERE user_id = ${userId} AND revoked_at IS NULL`);
  await db.query(sql.unsafe`
    /* deleteAllDevices */
    DELETE FROM devices WHERE user_id = ${userId}`);
  return [...live];
}
