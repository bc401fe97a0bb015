import { sql } from "slonik";
import { z } from "zod";
import { bytes, type Db, timestamp, uniqueViolation, uuid } from "../db/types.js";
import { AlreadyExistsError } from "../shared/errors.js";
import { quote } from "../shared/quote.js";

const identityRow = z.object({
  id: uuid,
  cyphr_id: z.string(),
  identity_public_key: bytes,
  ml_kem_public_key: bytes,
  display_name: z.string().nullable(),
  avatar_ref: z.string().nullable(),
  encrypted_settings: bytes.nullable(),
  discoverable: z.boolean(),
  share_presence: z.boolean(),
  created_at: timestamp,
});
export type IdentityRow = z.infer<typeof identityRow>;

const IDENTITY_COLUMNS = sql.fragment`id, cyphr_id, identity_public_key, ml_kem_public_key,
  display_name, avatar_ref, encrypted_settings, discoverable, share_presence, created_at`;

export interface NewIdentity {
  id: string;
  cyphrId: string;
  identityPublicKey: Uint8Array;
  mlKemPublicKey: Uint8Array;
  displayName: string | null;
}

export async function insertIdentity(db: Db, identity: NewIdentity): Promise<void> {
  try {
    await db.query(sql.unsafe`
      /* insertIdentity */
      INSERT INTO identities (id, cyphr_id, identity_public_key, ml_kem_public_key, display_name, next_device_id)
      VALUES (${identity.id}, ${identity.cyphrId}, ${sql.binary(Buffer.from(identity.identityPublicKey))},
              ${sql.binary(Buffer.from(identity.mlKemPublicKey))}, ${identity.displayName}, 2)`);
  } catch (error) {
    const constraint = uniqueViolation(error);
    if (constraint === "identities_cyphr_id_key") throw new AlreadyExistsError(`cyphr_id ${quote(identity.cyphrId)} is already taken`);
    if (constraint === "identities_identity_public_key_key") {
      throw new AlreadyExistsError("identity_public_key is already registered to another account");
    }
    throw error;
  }
}

export async function findIdentityByCyphrId(db: Db, cyphrId: string): Promise<IdentityRow | null> {
  return db.maybeOne(sql.type(identityRow)`
    /* findIdentityByCyphrId */
    SELECT ${IDENTITY_COLUMNS} FROM identities WHERE cyphr_id = ${cyphrId}`);
}

export async function findIdentityById(db: Db, id: string): Promise<IdentityRow | null> {
  return db.maybeOne(sql.type(identityRow)`
    /* findIdentityById */
    SELECT ${IDENTITY_COLUMNS} FROM identities WHERE id = ${id}`);
}

export async function cyphrIdTaken(db: Db, cyphrId: string): Promise<boolean> {
  return db.exists(sql.unsafe`/* cyphrIdTaken */ SELECT 1 FROM identities WHERE cyphr_id = ${cyphrId}`);
}

export interface ProfileChanges {
  displayName?: string | null;
  avatarRef?: string | null;
  encryptedSettings?: Uint8Array | null;
  discoverable?: boolean;
  sharePresence?: boolean;
}

export async function updateIdentityProfile(db: Db, id: string, changes: ProfileChanges): Promise<IdentityRow> {
  const sets = [sql.fragment`updated_at = now()`];
  if (changes.displayName !== undefined) sets.push(sql.fragment`display_name = ${changes.displayName}`);
  if (changes.avatarRef !== undefined) sets.push(sql.fragment`avatar_ref = ${changes.avatarRef}`);
  if (changes.encryptedSettings !== undefined) {
    const value = changes.encryptedSettings === null ? null : sql.binary(Buffer.from(changes.encryptedSettings));
    sets.push(sql.fragment`encrypted_settings = ${value}`);
  }
  if (changes.discoverable !== undefined) sets.push(sql.fragment`discoverable = ${changes.discoverable}`);
  if (changes.sharePresence !== undefined) sets.push(sql.fragment`share_presence = ${changes.sharePresence}`);
  // A privacy choice made through the profile counts as choosing (migrations leave it alone).
  if (changes.discoverable !== undefined || changes.sharePresence !== undefined) sets.push(sql.fragment`privacy_chosen_at = now()`);
  return db.one(sql.type(identityRow)`
    /* updateIdentityProfile */
    UPDATE identities SET ${sql.join(sets, sql.fragment`, `)}
    WHERE id = ${id}
    RETURNING ${IDENTITY_COLUMNS}`);
}

/**
 * Discoverable identities whose cyphr_id starts with `prefix`, after `afterCyphrId`, in
 * order; the searcher always finds themselves, never someone who blocked them.
 */
export async function searchDiscoverable(db: Db, searcherId: string, prefix: string, afterCyphrId: string, limit: number): Promise<readonly IdentityRow[]> {
  // prefix is [a-z0-9_]; "_" is a LIKE wildcard, so escape it.
  const pattern = `${prefix.replaceAll("_", "\\_")}%`;
  // COLLATE "C": byte order whatever the database's default collation, so that clients
  // get the same order from every deployment (a linguistic collation sorts "_" first).
  return db.any(sql.type(identityRow)`
    /* searchDiscoverable */
    SELECT ${IDENTITY_COLUMNS} FROM identities
    WHERE (discoverable OR id = ${searcherId}) AND cyphr_id LIKE ${pattern} AND cyphr_id COLLATE "C" > ${afterCyphrId}
      AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = identities.id AND b.blocked_id = ${searcherId})
    ORDER BY cyphr_id COLLATE "C"
    LIMIT ${limit}`);
}
