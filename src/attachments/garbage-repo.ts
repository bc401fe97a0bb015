import { sql } from "slonik";
import { z } from "zod";
import { type Db, uuid } from "../db/types.js";

/** A blob whose metadata is gone, as queued (the generation changes when it is queued again). */
export interface QueuedBlob {
  blobKey: string;
  generation: number;
}

/**
 * Queues a blob for the purge job again: a part written after its metadata went. A blob still
 * queued gets a new generation, so a purge running meanwhile does not forget it.
 */
export async function requeueBlob(db: Db, blobKey: string): Promise<void> {
  await db.query(sql.unsafe`
    /* requeueAttachmentBlob */
    INSERT INTO attachment_garbage (blob_key) VALUES (${blobKey})
    ON CONFLICT (blob_key) DO UPDATE SET generation = nextval('attachment_garbage_generation')`);
}

export async function queuedBlobs(db: Db, limit: number): Promise<QueuedBlob[]> {
  const rows = await db.any(sql.type(z.object({ blob_key: uuid, generation: z.number() }))`
    /* queuedAttachmentBlobs */
    SELECT blob_key, generation FROM attachment_garbage ORDER BY queued_at, blob_key LIMIT ${limit}`);
  return rows.map((r) => ({ blobKey: r.blob_key, generation: r.generation }));
}

/** Forgets a purged blob, unless it was queued again since it was read. */
export async function forgetBlob(db: Db, blob: QueuedBlob): Promise<void> {
  await db.query(sql.unsafe`
    /* forgetAttachmentBlob */
    DELETE FROM attachment_garbage WHERE blob_key = ${blob.blobKey} AND generation = ${blob.generation}`);
}
