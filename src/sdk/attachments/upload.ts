import type { Client } from "@connectrpc/connect";
import { equalBytes } from "@noble/curves/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { AttachmentsService } from "../../gen/cyphr/attachments/v1/attachments_pb.js";
import { CyphrError } from "../errors.js";
import { ciphertextSize, DEFAULT_CHUNK_SIZE, KEY_BYTES, MIN_CHUNK_SIZE, sealSegment, segmentCount, segmentRange } from "./format.js";
import type { AttachmentRef } from "./reference.js";
import { resumable } from "./retry.js";
import { type FileSource, type RangeReader, rangeReader } from "./source.js";

/** Bytes done of a transfer, for progress bars. */
export interface Progress {
  /** File bytes uploaded or downloaded and checked so far. */
  bytes: number;
  total: number;
}

/**
 * An upload in progress: with it (and the same file) a new process resumes where the last
 * one stopped. It holds the file key: keep it as secret as the file.
 */
export interface PendingUpload {
  uploadId: string;
  key: Uint8Array;
  sha256: Uint8Array;
  chunkSize: number;
}

export interface UploadOptions {
  name?: string;
  mediaType?: string;
  /** Sealed segment size: 64 KiB to 1 MiB (default 1 MiB). */
  chunkSize?: number;
  /** Lifetime on the server (e.g. the chat's disappearing timer); 0 or unset: the server's. */
  expiresInSeconds?: number;
  onProgress?: (progress: Progress) => void;
  /** Called once the server knows the upload: persist it to resume after a crash. */
  onPending?: (pending: PendingUpload) => void | Promise<void>;
  /** Continue this upload (same file) instead of starting a new one. */
  resume?: PendingUpload;
  signal?: AbortSignal;
}

export type CallOptions = () => Promise<{ headers: Record<string, string>; signal?: AbortSignal }>;

/**
 * Encrypts `source` with a fresh key (cyphr-attachment-v1), uploads the ciphertext chunk by
 * chunk, resuming from GetUploadStatus after lost connections, and completes it. Reads the
 * file twice (once for the digest CreateUpload declares, once to send), one segment at a time.
 */
export async function uploadFile(
  client: Client<typeof AttachmentsService>,
  auth: CallOptions,
  source: FileSource,
  options: UploadOptions = {},
): Promise<AttachmentRef> {
  const file = rangeReader(source);
  const chunkSize = options.resume?.chunkSize ?? options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > DEFAULT_CHUNK_SIZE)
    throw new CyphrError("invalid_argument", `chunkSize must be ${MIN_CHUNK_SIZE} to ${DEFAULT_CHUNK_SIZE} bytes.`);
  const key = options.resume?.key ?? crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  const size = ciphertextSize(file.size, chunkSize);
  const segments = segmentCount(file.size, chunkSize);
  const seal = async (i: number) => {
    const { start, end } = segmentRange(i, file.size, chunkSize);
    return sealSegment(key, i, i === segments - 1, await file.read(start, end));
  };
  const digest = options.resume?.sha256 ?? (await digestOf(seal, segments));
  let uploadId = options.resume?.uploadId;
  if (uploadId === undefined) {
    const created = await resumable(
      async () => client.createUpload({ size: BigInt(size), sha256: digest, chunkSize, expiresInSeconds: options.expiresInSeconds ?? 0 }, await auth()),
      () => 0,
      options.signal,
    );
    uploadId = created.uploadId;
    await options.onPending?.({ uploadId, key, sha256: digest, chunkSize });
  }
  const id = uploadId;
  let sent = 0;
  await resumable(
    async () => {
      const status = await client.getUploadStatus({ uploadId: id }, await auth());
      const have = new Set<number>();
      for (const r of status.received) for (let at = Number(r.offset); at < Number(r.offset + r.length); at += chunkSize) have.add(at / chunkSize);
      sent = [...have].reduce((sum, i) => sum + segmentLength(i, file, chunkSize), 0);
      options.onProgress?.({ bytes: sent, total: file.size });
      for (let i = 0; i < segments; i++) {
        if (have.has(i)) continue;
        await client.putChunk({ uploadId: id, offset: BigInt(i * chunkSize), data: await seal(i) }, await auth());
        sent += segmentLength(i, file, chunkSize);
        options.onProgress?.({ bytes: sent, total: file.size });
      }
    },
    () => sent,
    options.signal,
  );
  const completed = await resumable(
    async () => client.completeUpload({ uploadId: id }, await auth()),
    () => sent,
    options.signal,
  );
  const info = completed.attachment;
  if (!info || !equalBytes(info.sha256, digest) || Number(info.size) !== size)
    throw new CyphrError("data_loss", "The server completed the upload with another size or digest than the SDK sent.");
  return {
    attachmentId: info.attachmentId,
    key,
    sha256: digest,
    size,
    plaintextSize: file.size,
    chunkSize,
    name: options.name ?? "",
    mediaType: options.mediaType ?? "",
  };
}

function segmentLength(i: number, file: RangeReader, chunkSize: number): number {
  const { start, end } = segmentRange(i, file.size, chunkSize);
  return end - start;
}

async function digestOf(seal: (i: number) => Promise<Uint8Array>, segments: number): Promise<Uint8Array> {
  const hash = sha256.create();
  for (let i = 0; i < segments; i++) hash.update(await seal(i));
  return hash.digest();
}
