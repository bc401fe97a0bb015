/**
 * Where attachment bytes live. A blob is named by its key (the upload id) and made of parts
 * (the upload's chunks, part i at byte i × chunk_size); the metadata (size, chunk size,
 * digest, owner, lifetime) stays in PostgreSQL (./repo.ts). Implementations: PostgreSQL
 * (./pg-blob-store.ts, the default) and S3-compatible object storage (./s3-blob-store.ts).
 */
export interface BlobStore {
  /** "postgres" or "s3", for logs and docs. */
  readonly kind: string;
  /**
   * Checks, before the server serves, that the storage is there and usable (and makes what
   * the configuration says to make); throws BlobStoreUnusableError naming the problem.
   */
  open(): Promise<void>;
  /** Stores part `part` of blob `key`; storing a part again replaces it. */
  putPart(key: string, part: number, data: Uint8Array): Promise<void>;
  /**
   * Bytes [start, end) of one part, in pieces as storage hands them over, never the whole blob
   * at once. Throws NotFoundError when the part is gone (the blob was purged meanwhile).
   */
  readPart(key: string, part: number, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /** Removes every part of blob `key`; removing a blob that is not there succeeds. */
  deleteBlob(key: string): Promise<void>;
  /** Whether any part of blob `key` is stored (for tests and the purge job's checks). */
  hasBlob(key: string): Promise<boolean>;
  close(): Promise<void>;
}

/** The configured storage cannot hold attachments (e.g. the S3 bucket is missing): the server does not start. */
export class BlobStoreUnusableError extends Error {
  override readonly name = "BlobStoreUnusableError";
}
