import { createHash } from "node:crypto";
import { equalBytes } from "@noble/curves/utils.js";
import type { Caller } from "../identity/tokens.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, ResourceExhaustedError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { claimChunk, deleteChunkRecords, markChunkStored, storedChunkIndexes } from "./chunks-repo.js";
import type { AttachmentsContext } from "./context.js";
import { requeueBlob } from "./garbage-repo.js";
import { randomId } from "./ids.js";
import { MAX_CHUNK_BYTES, MIN_CHUNK_BYTES, MIN_EXPIRES_IN_SECONDS } from "./limits.js";
import { type ByteRange, firstGap, partsOf, receivedRanges } from "./ranges.js";
import {
  type AttachmentRecord,
  completeUploadRow,
  deleteEntry,
  findOpenUpload,
  findOwnUpload,
  insertUpload,
  lockOwnerQuota,
  type UploadRecord,
  usedBytes,
} from "./repo.js";

export interface CreateUploadRequest {
  size: bigint;
  sha256: Uint8Array;
  chunkSize: number;
  /** 0: the server's lifetime. */
  expiresInSeconds: number;
}

/** Checks the declaration, reserves its size against the account's quota (atomically) and opens the upload. */
export async function createUpload(ctx: AttachmentsContext, caller: Caller, req: CreateUploadRequest): Promise<UploadRecord> {
  if (req.size < 1n || req.size > BigInt(ctx.maxBytes))
    throw new InvalidArgumentError(`size must be 1 to ${ctx.maxBytes} bytes (ATTACHMENTS_MAX_BYTES), got ${req.size}`);
  if (req.sha256.length !== 32) throw new InvalidArgumentError(`sha256 must be 32 bytes (the SHA-256 of the ciphertext), got ${req.sha256.length}`);
  if (req.chunkSize < MIN_CHUNK_BYTES || req.chunkSize > MAX_CHUNK_BYTES) {
    throw new InvalidArgumentError(`chunk_size must be ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES} bytes, got ${req.chunkSize}`);
  }
  if (req.expiresInSeconds !== 0 && (req.expiresInSeconds < MIN_EXPIRES_IN_SECONDS || req.expiresInSeconds > ctx.ttlSeconds)) {
    throw new InvalidArgumentError(`expires_in_seconds must be 0 (the default) or ${MIN_EXPIRES_IN_SECONDS} to ${ctx.ttlSeconds}, got ${req.expiresInSeconds}`);
  }
  const size = Number(req.size);
  return ctx.pool.transaction(async (tx) => {
    await lockOwnerQuota(tx, caller.userId);
    const used = await usedBytes(tx, caller.userId);
    if (used + size > ctx.quotaBytes) {
      const free = Math.max(0, ctx.quotaBytes - used);
      throw new ResourceExhaustedError(
        `attachment quota exceeded: this account holds ${used} of ${ctx.quotaBytes} bytes, ${free} free, and this upload needs ${size}; delete attachments or wait for them to expire`,
      );
    }
    return insertUpload(tx, {
      uploadId: randomId(),
      owner: caller.userId,
      size,
      sha256: req.sha256,
      chunkSize: req.chunkSize,
      ttlSeconds: req.expiresInSeconds === 0 ? ctx.ttlSeconds : req.expiresInSeconds,
      uploadTtlSeconds: ctx.uploadTtlSeconds,
    });
  });
}

const NO_UPLOAD = "upload_id: no such upload of yours (unfinished uploads are removed after ATTACHMENTS_UPLOAD_TTL_SECONDS)";
const NO_OPEN_UPLOAD =
  "upload_id: no such unfinished upload of yours (unfinished uploads are removed after ATTACHMENTS_UPLOAD_TTL_SECONDS; a completed one takes no more chunks)";

async function requireOpenUpload(ctx: AttachmentsContext, caller: Caller, uploadId: string): Promise<UploadRecord> {
  const upload = await findOpenUpload(ctx.pool, caller.userId, requireUuid("upload_id", uploadId));
  if (!upload) throw new NotFoundError(NO_OPEN_UPLOAD);
  return upload;
}

/**
 * Stores one chunk. The chunk's digest is claimed first and its bytes written after, so a
 * repeated chunk is accepted (and rewritten with the same bytes if its first write never
 * finished), and a different one at the same offset is refused.
 */
export async function putChunk(ctx: AttachmentsContext, caller: Caller, req: { uploadId: string; offset: bigint; data: Uint8Array }): Promise<number> {
  const upload = await requireOpenUpload(ctx, caller, req.uploadId);
  if (req.offset >= BigInt(upload.size) || req.offset % BigInt(upload.chunkSize) !== 0n) {
    throw new InvalidArgumentError(`offset must be a multiple of chunk_size ${upload.chunkSize} below size ${upload.size}, got ${req.offset}`);
  }
  const offset = Number(req.offset);
  const expected = Math.min(upload.chunkSize, upload.size - offset);
  if (req.data.length !== expected) throw new InvalidArgumentError(`data at offset ${offset} must be ${expected} bytes, got ${req.data.length}`);
  const index = offset / upload.chunkSize;
  const digest = createHash("sha256").update(req.data).digest();
  const claim = await claimChunk(ctx.pool, upload.uploadId, index, req.data.length, digest);
  if (!claim) throw new NotFoundError(NO_OPEN_UPLOAD);
  if (!equalBytes(claim.sha256, digest)) {
    throw new FailedPreconditionError(
      `offset ${offset}: a different chunk is stored at this offset already; an upload's bytes cannot change (start a new upload)`,
    );
  }
  if (!claim.stored) {
    await ctx.store.putPart(upload.uploadId, index, req.data);
    // The upload went while the bytes were being written: the purge job takes them too.
    if (!(await markChunkStored(ctx.pool, upload.uploadId, index))) {
      await requeueBlob(ctx.pool, upload.uploadId);
      throw new NotFoundError(NO_OPEN_UPLOAD);
    }
  }
  return receivedBytes(await storedRanges(ctx, upload));
}

export interface UploadStatus {
  upload: UploadRecord;
  received: ByteRange[];
  receivedBytes: number;
}

export async function uploadStatus(ctx: AttachmentsContext, caller: Caller, uploadId: string): Promise<UploadStatus> {
  const upload = await requireOpenUpload(ctx, caller, uploadId);
  const received = await storedRanges(ctx, upload);
  return { upload, received, receivedBytes: receivedBytes(received) };
}

/**
 * Checks that every chunk arrived and that the stored bytes hash to the declared SHA-256
 * (read back from the store a part at a time), then gives the upload its attachment id. A
 * digest mismatch discards the upload. Completing a completed upload returns its attachment.
 */
export async function completeUpload(ctx: AttachmentsContext, caller: Caller, uploadId: string): Promise<AttachmentRecord> {
  const upload = await findOwnUpload(ctx.pool, caller.userId, requireUuid("upload_id", uploadId));
  if (!upload) throw new NotFoundError(NO_UPLOAD);
  if (upload.attachmentId !== null) return upload as AttachmentRecord;
  const missing = firstGap(await storedRanges(ctx, upload), upload.size);
  if (missing) {
    throw new FailedPreconditionError(
      `the upload is incomplete: bytes ${missing.offset} to ${missing.offset + missing.length - 1} have not arrived (GetUploadStatus lists what has)`,
    );
  }
  // Reading the bytes back is a read like any other: it takes one of the server's read slots.
  const release = ctx.reads.take();
  const hash = createHash("sha256");
  try {
    for (const { part, start, end } of partsOf(0, upload.size, upload.chunkSize)) {
      for await (const piece of ctx.store.readPart(upload.uploadId, part, start, end)) hash.update(piece);
    }
  } finally {
    release();
  }
  if (!equalBytes(hash.digest(), upload.sha256)) {
    await deleteEntry(ctx.pool, upload.uploadId);
    throw new FailedPreconditionError("sha256: the uploaded bytes do not have the declared SHA-256; the upload was discarded (nothing is kept), start again");
  }
  const completed = await ctx.pool.transaction(async (tx) => {
    const done = await completeUploadRow(tx, upload.uploadId, randomId());
    if (done) await deleteChunkRecords(tx, upload.uploadId);
    return done;
  });
  if (completed) return completed;
  // Another CompleteUpload won, or the upload expired meanwhile.
  const again = await findOwnUpload(ctx.pool, caller.userId, upload.uploadId);
  if (again?.attachmentId) return again as AttachmentRecord;
  throw new NotFoundError(NO_UPLOAD);
}

async function storedRanges(ctx: AttachmentsContext, upload: UploadRecord): Promise<ByteRange[]> {
  return receivedRanges(await storedChunkIndexes(ctx.pool, upload.uploadId), upload.chunkSize, upload.size);
}

function receivedBytes(ranges: readonly ByteRange[]): number {
  return ranges.reduce((sum, r) => sum + r.length, 0);
}
