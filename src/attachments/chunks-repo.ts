import { ForeignKeyIntegrityConstraintViolationError, sql } from "slonik";
import { z } from "zod";
import { bytes, type Db } from "../db/types.js";

/** What is recorded for one chunk index of an upload. */
export interface ChunkClaim {
  sha256: Uint8Array;
  stored: boolean;
}

/**
 * Claims chunk `index` for bytes with this SHA-256, unless it is claimed already, and returns
 * the claim that holds: this one, or the earlier one (whose digest may differ). Null when the
 * upload is gone.
 */
export async function claimChunk(db: Db, uploadId: string, index: number, length: number, sha256: Uint8Array): Promise<ChunkClaim | null> {
  try {
    await db.query(sql.unsafe`
      /* claimAttachmentChunk */
      INSERT INTO attachment_chunks (upload_id, index, length, sha256) VALUES (${uploadId}, ${index}, ${length}, ${sql.binary(Buffer.from(sha256))})
      ON CONFLICT (upload_id, index) DO NOTHING`);
  } catch (error) {
    if (error instanceof ForeignKeyIntegrityConstraintViolationError) return null;
    throw error;
  }
  return db.maybeOne(sql.type(z.object({ sha256: bytes, stored: z.boolean() }))`
    /* attachmentChunkClaim */
    SELECT sha256, stored FROM attachment_chunks WHERE upload_id = ${uploadId} AND index = ${index}`);
}

/** Marks a claimed chunk's bytes as written; false when the upload went meanwhile. */
export async function markChunkStored(db: Db, uploadId: string, index: number): Promise<boolean> {
  const result = await db.query(sql.unsafe`
    /* markAttachmentChunkStored */
    UPDATE attachment_chunks SET stored = true WHERE upload_id = ${uploadId} AND index = ${index}`);
  return result.rowCount > 0;
}

/** Indexes of the upload's stored chunks, ascending. */
export async function storedChunkIndexes(db: Db, uploadId: string): Promise<number[]> {
  const rows = await db.any(sql.type(z.object({ index: z.number() }))`
    /* storedAttachmentChunks */
    SELECT index FROM attachment_chunks WHERE upload_id = ${uploadId} AND stored ORDER BY index`);
  return rows.map((r) => r.index);
}

/** Drops the upload's chunk bookkeeping once it is an attachment (its parts stay in the store). */
export async function deleteChunkRecords(db: Db, uploadId: string): Promise<void> {
  await db.query(sql.unsafe`/* deleteAttachmentChunks */ DELETE FROM attachment_chunks WHERE upload_id = ${uploadId}`);
}
