import { type DatabasePool, sql } from "slonik";
import { z } from "zod";
import { bytes } from "../db/types.js";
import { NotFoundError } from "../shared/errors.js";
import type { BlobStore } from "./blob-store.js";

/** Bytes one read statement fetches at most. */
const READ_SLICE_BYTES = 256 * 1024;

/**
 * The default BlobStore: one row per part in attachment_blob_parts (migration 0013), so
 * `npm start` needs nothing but PostgreSQL. A read fetches at most 256 KiB of a part per
 * statement, so a stream holds a few hundred KiB, never a whole part or file.
 */
export class PostgresBlobStore implements BlobStore {
  readonly kind = "postgres";

  constructor(private readonly pool: DatabasePool) {}

  /** Its table comes with the migrations, which ran before the app is built. */
  async open(): Promise<void> {}

  async putPart(key: string, part: number, data: Uint8Array): Promise<void> {
    await this.pool.query(sql.unsafe`
      /* putAttachmentBlobPart */
      INSERT INTO attachment_blob_parts (blob_key, part, data) VALUES (${key}, ${part}, ${sql.binary(Buffer.from(data.buffer, data.byteOffset, data.byteLength))})
      ON CONFLICT (blob_key, part) DO UPDATE SET data = EXCLUDED.data`);
  }

  async *readPart(key: string, part: number, start: number, end: number): AsyncIterable<Uint8Array> {
    // A slice per statement: bytea arrives hex-encoded (twice its size), so smaller slices keep a read's memory small.
    for (let at = start; at < end; at += READ_SLICE_BYTES) {
      const row = await this.pool.maybeOne(sql.type(z.object({ data: bytes }))`
        /* readAttachmentBlobPart */
        SELECT substring(data FROM ${at + 1} FOR ${Math.min(READ_SLICE_BYTES, end - at)}) AS data
        FROM attachment_blob_parts WHERE blob_key = ${key} AND part = ${part}`);
      if (!row) throw new NotFoundError("attachment_id: the attachment was deleted or has expired");
      yield new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength);
    }
  }

  async deleteBlob(key: string): Promise<void> {
    await this.pool.query(sql.unsafe`/* deleteAttachmentBlob */ DELETE FROM attachment_blob_parts WHERE blob_key = ${key}`);
  }

  hasBlob(key: string): Promise<boolean> {
    return this.pool.exists(sql.unsafe`/* hasAttachmentBlob */ SELECT 1 FROM attachment_blob_parts WHERE blob_key = ${key}`);
  }

  async close(): Promise<void> {}
}
