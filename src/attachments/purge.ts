import type { Logger } from "pino";
import type { Db } from "../db/types.js";
import type { BlobStore } from "./blob-store.js";
import { forgetBlob, queuedBlobs } from "./garbage-repo.js";
import { purgeExpiredRows } from "./repo.js";

/** Deletes up to `batch` expired uploads and attachments as of `now`; their bytes are queued for purgeBlobs. */
export function purgeExpiredAttachments(db: Db, now: Date, batch: number): Promise<number> {
  return purgeExpiredRows(db, now, batch);
}

/**
 * Deletes the bytes of up to `batch` queued blobs from the store, then forgets them. A blob
 * whose delete fails stays queued for the next run; returns the blobs purged.
 */
export async function purgeBlobs(db: Db, store: BlobStore, log: Logger, batch: number): Promise<number> {
  let purged = 0;
  for (const blob of await queuedBlobs(db, batch)) {
    try {
      await store.deleteBlob(blob.blobKey);
    } catch (error) {
      log.warn({ err: { name: (error as Error).name } }, "attachment bytes not purged; retrying on the next run");
      continue;
    }
    await forgetBlob(db, blob);
    purged++;
  }
  return purged;
}
