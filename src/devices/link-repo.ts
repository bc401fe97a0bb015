import { sql } from "slonik";
import { z } from "zod";
import { bytes, type Db, timestamp, uuid } from "../db/types.js";
import type { LinkApproval } from "./model.js";

export interface NewLink {
  id: string;
  secretHash: Buffer;
  signingKey: Uint8Array;
  fingerprintHmac: Buffer;
  sourceHmac: Buffer;
  expiresAt: Date;
}

const pendingCounts = z.object({ total: z.number(), from_source: z.number() });

/** Links not yet expired: in all, and begun from this source. */
export async function countPendingLinks(db: Db, sourceHmac: Buffer): Promise<{ total: number; fromSource: number }> {
  const row = await db.one(sql.type(pendingCounts)`
    /* countPendingLinks */
    SELECT count(*)::int AS total, (count(*) FILTER (WHERE source_hmac = ${sql.binary(sourceHmac)}))::int AS from_source
    FROM device_links WHERE expires_at > now()`);
  return { total: row.total, fromSource: row.from_source };
}

export async function insertLink(db: Db, link: NewLink): Promise<void> {
  await db.query(sql.unsafe`
    /* insertDeviceLink */
    INSERT INTO device_links (id, secret_hash, signing_key, fingerprint_hmac, source_hmac, expires_at)
    VALUES (${link.id}, ${sql.binary(link.secretHash)}, ${sql.binary(Buffer.from(link.signingKey))},
            ${sql.binary(link.fingerprintHmac)}, ${sql.binary(link.sourceHmac)}, ${sql.timestamp(link.expiresAt)})`);
}

const linkRow = z.object({
  secret_hash: bytes,
  signing_key: bytes,
  fingerprint_hmac: bytes,
  expires_at: timestamp,
  approved: z.boolean(),
  expired: z.boolean(),
});
export type StoredLink = z.infer<typeof linkRow>;

/** The link, locked for the rest of the transaction (approval). */
export async function lockLink(db: Db, linkId: string): Promise<StoredLink | null> {
  return db.maybeOne(sql.type(linkRow)`
    /* lockDeviceLink */
    SELECT secret_hash, signing_key, fingerprint_hmac, expires_at, approved_at IS NOT NULL AS approved,
      expires_at <= now() AS expired
    FROM device_links WHERE id = ${linkId}
    FOR UPDATE`);
}

export async function approveLink(db: Db, linkId: string, approval: LinkApproval): Promise<void> {
  await db.query(sql.unsafe`
    /* approveDeviceLink */
    UPDATE device_links SET approved_at = now(), user_id = ${approval.userId}, device_id = ${approval.deviceId},
      certificate = ${sql.binary(Buffer.from(approval.certificate))},
      provisioning_blob = ${sql.binary(Buffer.from(approval.provisioningBlob))}
    WHERE id = ${linkId}`);
}

const waitRow = z.object({
  secret_hash: bytes,
  expires_at: timestamp,
  expired: z.boolean(),
  user_id: uuid.nullable(),
  cyphr_id: z.string().nullable(),
  device_id: z.number().nullable(),
  certificate: bytes.nullable(),
  provisioning_blob: bytes.nullable(),
});
export type WaitedLink = z.infer<typeof waitRow>;

/** What a waiter sees of its link (approval fields are null until approved). */
export async function readLink(db: Db, linkId: string): Promise<WaitedLink | null> {
  return db.maybeOne(sql.type(waitRow)`
    /* readDeviceLink */
    SELECT l.secret_hash, l.expires_at, l.expires_at <= now() AS expired, l.user_id, i.cyphr_id, l.device_id,
      l.certificate, l.provisioning_blob
    FROM device_links l LEFT JOIN identities i ON i.id = l.user_id
    WHERE l.id = ${linkId}`);
}

/** Deletes a delivered link; false when another waiter took it first. */
export async function deleteDeliveredLink(db: Db, linkId: string): Promise<boolean> {
  const result = await db.query(sql.unsafe`
    /* deleteDeliveredLink */
    DELETE FROM device_links WHERE id = ${linkId} AND approved_at IS NOT NULL`);
  return result.rowCount === 1;
}

/** Deletes links that expired, in batches of `limit`; returns how many. */
export async function deleteExpiredLinks(db: Db, now: Date, limit: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* deleteExpiredLinks */
    DELETE FROM device_links WHERE id IN (SELECT id FROM device_links WHERE expires_at <= ${sql.timestamp(now)} LIMIT ${limit})`);
  return result.rowCount;
}
