import { sql } from "slonik";
import { z } from "zod";
import { bytes, type Db, timestamp, uuid } from "../db/types.js";

/** An upload, finished or not, as the use cases see it. */
export interface UploadRecord {
  uploadId: string;
  /** Set once CompleteUpload succeeded. */
  attachmentId: string | null;
  owner: string;
  size: number;
  sha256: Uint8Array;
  chunkSize: number;
  ttlSeconds: number;
  createdAt: Date;
  completedAt: Date | null;
  expiresAt: Date;
}

/** A completed upload. */
export type AttachmentRecord = UploadRecord & { attachmentId: string; completedAt: Date };

const row = z.object({
  upload_id: uuid,
  attachment_id: uuid.nullable(),
  owner: uuid,
  size: z.number(),
  sha256: bytes,
  chunk_size: z.number(),
  ttl_seconds: z.number(),
  created_at: timestamp,
  completed_at: timestamp.nullable(),
  expires_at: timestamp,
});
const COLUMNS = sql.fragment`upload_id, attachment_id, owner, size, sha256, chunk_size, ttl_seconds, created_at, completed_at, expires_at`;

function toRecord(r: z.infer<typeof row>): UploadRecord {
  return {
    uploadId: r.upload_id,
    attachmentId: r.attachment_id,
    owner: r.owner,
    size: r.size,
    sha256: r.sha256,
    chunkSize: r.chunk_size,
    ttlSeconds: r.ttl_seconds,
    createdAt: r.created_at,
    completedAt: r.completed_at,
    expiresAt: r.expires_at,
  };
}

/**
 * Not expired, or its owner's current avatar (kept while it is the avatar). The one rule of
 * liveness: reads, quota sums and the purge job all use it.
 */
function live(at: ReturnType<typeof sql.fragment> = sql.fragment`now()`) {
  return sql.fragment`(attachments.expires_at > ${at} OR EXISTS (
    SELECT 1 FROM identities i WHERE i.id = attachments.owner AND i.avatar_ref = attachments.attachment_id::text))`;
}

/**
 * Serialises the quota checks of one account (CreateUpload), so that concurrent uploads
 * cannot together exceed it. Held until the transaction ends.
 */
export async function lockOwnerQuota(tx: Db, owner: string): Promise<void> {
  await tx.query(sql.unsafe`/* lockAttachmentQuota */ SELECT pg_advisory_xact_lock(1633, hashtext(${owner}))`);
}

/** Bytes the account's live attachments and unfinished uploads hold. */
export async function usedBytes(db: Db, owner: string): Promise<number> {
  return db.oneFirst(sql.type(z.object({ used: z.number() }))`
    /* attachmentUsedBytes */
    SELECT coalesce(sum(size), 0)::bigint AS used FROM attachments WHERE owner = ${owner} AND ${live()}`);
}

export interface NewUpload {
  uploadId: string;
  owner: string;
  size: number;
  sha256: Uint8Array;
  chunkSize: number;
  ttlSeconds: number;
  uploadTtlSeconds: number;
}

export async function insertUpload(db: Db, u: NewUpload): Promise<UploadRecord> {
  return toRecord(
    await db.one(sql.type(row)`
      /* insertAttachmentUpload */
      INSERT INTO attachments (upload_id, owner, size, sha256, chunk_size, ttl_seconds, expires_at)
      VALUES (${u.uploadId}, ${u.owner}, ${u.size}, ${sql.binary(Buffer.from(u.sha256))}, ${u.chunkSize}, ${u.ttlSeconds},
        now() + make_interval(secs => ${u.uploadTtlSeconds}))
      RETURNING ${COLUMNS}`),
  );
}

/** One of the owner's unfinished uploads, while it has not expired. */
export async function findOpenUpload(db: Db, owner: string, uploadId: string): Promise<UploadRecord | null> {
  const r = await db.maybeOne(sql.type(row)`
    /* findOpenAttachmentUpload */
    SELECT ${COLUMNS} FROM attachments
    WHERE upload_id = ${uploadId} AND owner = ${owner} AND attachment_id IS NULL AND expires_at > now()`);
  return r && toRecord(r);
}

/** One of the owner's uploads, unfinished or completed, while it is live. */
export async function findOwnUpload(db: Db, owner: string, uploadId: string): Promise<UploadRecord | null> {
  const r = await db.maybeOne(sql.type(row)`
    /* findOwnAttachmentUpload */
    SELECT ${COLUMNS} FROM attachments WHERE upload_id = ${uploadId} AND owner = ${owner} AND ${live()}`);
  return r && toRecord(r);
}

/** A live attachment by its id, whoever asks (the id is the capability). */
export async function findAttachment(db: Db, attachmentId: string): Promise<AttachmentRecord | null> {
  const r = await db.maybeOne(sql.type(row)`
    /* findAttachment */
    SELECT ${COLUMNS} FROM attachments WHERE attachment_id = ${attachmentId} AND ${live()}`);
  return r && (toRecord(r) as AttachmentRecord);
}

/**
 * Turns the upload into an attachment: its new id, completion time and lifetime. Null when
 * it is no longer an unfinished, unexpired upload (another completion won, or it expired).
 */
export async function completeUploadRow(db: Db, uploadId: string, attachmentId: string): Promise<AttachmentRecord | null> {
  const r = await db.maybeOne(sql.type(row)`
    /* completeAttachmentUpload */
    UPDATE attachments SET attachment_id = ${attachmentId}, completed_at = now(), expires_at = now() + make_interval(secs => ttl_seconds)
    WHERE upload_id = ${uploadId} AND attachment_id IS NULL AND expires_at > now()
    RETURNING ${COLUMNS}`);
  return r && (toRecord(r) as AttachmentRecord);
}

/**
 * The owner's live attachment `id` (or unfinished upload `id`), locked against deletion for
 * the rest of the transaction: FOR UPDATE to delete it, FOR SHARE to make it an avatar.
 */
export async function lockOwnEntry(tx: Db, owner: string, id: string, mode: "update" | "share"): Promise<UploadRecord | null> {
  const lock = mode === "update" ? sql.fragment`FOR UPDATE` : sql.fragment`FOR SHARE`;
  const r = await tx.maybeOne(sql.type(row)`
    /* lockOwnAttachment */
    SELECT ${COLUMNS} FROM attachments
    WHERE owner = ${owner} AND (attachment_id = ${id} OR (upload_id = ${id} AND attachment_id IS NULL)) AND ${live()}
    ${lock}`);
  return r && toRecord(r);
}

/** Whether `attachmentId` is the owner's current avatar. */
export async function isAvatar(db: Db, owner: string, attachmentId: string): Promise<boolean> {
  return db.exists(sql.unsafe`/* isAttachmentAvatar */ SELECT 1 FROM identities WHERE id = ${owner} AND avatar_ref = ${attachmentId}`);
}

/** Deletes the row; the trigger queues its bytes for the purge job. */
export async function deleteEntry(db: Db, uploadId: string): Promise<void> {
  await db.query(sql.unsafe`/* deleteAttachment */ DELETE FROM attachments WHERE upload_id = ${uploadId}`);
}

/**
 * Deletes up to `batch` rows that no read shows any more as of `now`: unfinished uploads past
 * their 24 h, attachments past their expiry that are no one's avatar. Their bytes are queued.
 */
export async function purgeExpiredRows(db: Db, now: Date, batch: number): Promise<number> {
  const at = sql.fragment`${sql.timestamp(now)}`;
  const result = await db.query(sql.unsafe`
    /* purgeExpiredAttachments */
    DELETE FROM attachments WHERE upload_id IN (
      SELECT upload_id FROM attachments WHERE expires_at <= ${at} AND NOT ${live(at)} LIMIT ${batch})`);
  return result.rowCount;
}
