import type { DatabasePool } from "slonik";
import type { BlobStore } from "./blob-store.js";
import type { ReadSlots } from "./read-slots.js";

/** What the attachment use cases need; built once in the composition root. */
export interface AttachmentsContext {
  pool: DatabasePool;
  /** Where the bytes live (ATTACHMENTS_STORE). */
  store: BlobStore;
  /** ATTACHMENTS_MAX_BYTES: the largest attachment. */
  maxBytes: number;
  /** ATTACHMENTS_QUOTA_BYTES: what one account's live attachments and unfinished uploads may hold. */
  quotaBytes: number;
  /** ATTACHMENTS_UPLOAD_TTL_SECONDS: how long an upload may stay unfinished. */
  uploadTtlSeconds: number;
  /** ATTACHMENTS_TTL_SECONDS: an attachment's lifetime, and the longest one a client may ask for. */
  ttlSeconds: number;
  /** ATTACHMENTS_MAX_READS: reads (streams and ranged reads) served at once. */
  reads: ReadSlots;
}
