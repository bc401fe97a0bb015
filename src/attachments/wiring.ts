import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import type { Config } from "../config.js";
import { inBatches } from "../jobs/batches.js";
import type { Jobs } from "../jobs/jobs.js";
import type { BlobStore } from "./blob-store.js";
import type { AttachmentsContext } from "./context.js";
import { GARBAGE_BATCH } from "./limits.js";
import { PostgresBlobStore } from "./pg-blob-store.js";
import { purgeBlobs, purgeExpiredAttachments } from "./purge.js";
import { ReadSlots } from "./read-slots.js";
import { S3BlobStore } from "./s3-blob-store.js";

/** The attachments context for the composition root, with the BlobStore ATTACHMENTS_STORE names. */
export function createAttachments(config: Config, pool: DatabasePool, log: Logger): AttachmentsContext {
  const store: BlobStore = config.attachmentsStore === "s3" && config.attachmentsS3 ? new S3BlobStore(config.attachmentsS3, log) : new PostgresBlobStore(pool);
  return {
    pool,
    store,
    maxBytes: config.attachmentsMaxBytes,
    quotaBytes: config.attachmentsQuotaBytes,
    uploadTtlSeconds: config.attachmentsUploadTtlSeconds,
    ttlSeconds: config.attachmentsTtlSeconds,
    reads: new ReadSlots(config.attachmentsMaxReads),
  };
}

/**
 * attachments.expired deletes the rows of expired attachments and abandoned uploads (their
 * bytes are queued by the table's trigger, as are those of deleted attachments and deleted
 * accounts); attachments.bytes deletes queued bytes from the BlobStore.
 */
export function registerAttachmentJobs(jobs: Jobs, ctx: AttachmentsContext, config: Config, log: Logger): void {
  jobs.register({
    name: "attachments.expired",
    intervalMs: config.attachmentsPurgeIntervalMs,
    run: (now) => inBatches(1000, (batch) => purgeExpiredAttachments(ctx.pool, now, batch)),
  });
  jobs.register({
    name: "attachments.bytes",
    intervalMs: config.attachmentsPurgeIntervalMs,
    run: () => inBatches(GARBAGE_BATCH, (batch) => purgeBlobs(ctx.pool, ctx.store, log, batch)),
  });
}
