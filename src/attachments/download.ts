import { InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import type { AttachmentsContext } from "./context.js";
import { MAX_CHUNK_BYTES } from "./limits.js";
import { partsOf } from "./ranges.js";
import { type AttachmentRecord, findAttachment } from "./repo.js";

const NO_ATTACHMENT = "attachment_id: no such attachment (it may have expired or been deleted)";

/** A live attachment by id, for any authenticated caller: the id is the capability. */
export async function requireAttachment(ctx: AttachmentsContext, attachmentId: string): Promise<AttachmentRecord> {
  const attachment = await findAttachment(ctx.pool, requireUuid("attachment_id", attachmentId));
  if (!attachment) throw new NotFoundError(NO_ATTACHMENT);
  return attachment;
}

export interface Download {
  info: AttachmentRecord;
  /** The bytes from the requested offset, with the offset of each piece, read as they are pulled. */
  pieces: AsyncGenerator<{ offset: number; data: Uint8Array }>;
  /** Gives the read slot back; call it when done, read to the end or not (repeating is harmless). */
  close(): void;
}

/**
 * Opens a read of [offset, offset + length) of an attachment (to its end when length is
 * undefined), holding one of the server's read slots until `close()`.
 * Nothing is read ahead: a part is fetched when the previous one has been taken.
 */
export async function openDownload(
  ctx: AttachmentsContext,
  attachmentId: string,
  offset: bigint,
  length: number | undefined,
  signal?: AbortSignal,
): Promise<Download> {
  const info = await requireAttachment(ctx, attachmentId);
  if (offset > BigInt(info.size)) throw new InvalidArgumentError(`offset ${offset} is beyond the attachment's end (${info.size} bytes)`);
  const start = Number(offset);
  const end = length === undefined ? info.size : Math.min(info.size, start + length);
  const release = ctx.reads.take();
  async function* pieces(): AsyncGenerator<{ offset: number; data: Uint8Array }> {
    try {
      for (const p of partsOf(start, end, info.chunkSize)) {
        let at = p.part * info.chunkSize + p.start;
        for await (const data of ctx.store.readPart(info.uploadId, p.part, p.start, p.end, signal)) {
          yield { offset: at, data };
          at += data.length;
        }
      }
    } finally {
      release();
    }
  }
  return { info, pieces: pieces(), close: release };
}

/** One ranged read (ReadAttachment): at most MAX_CHUNK_BYTES, fewer at the end. */
export async function readRange(
  ctx: AttachmentsContext,
  attachmentId: string,
  offset: bigint,
  length: number,
): Promise<{ info: AttachmentRecord; data: Uint8Array }> {
  if (length < 1 || length > MAX_CHUNK_BYTES) throw new InvalidArgumentError(`length must be 1 to ${MAX_CHUNK_BYTES}, got ${length}`);
  const { info, pieces, close } = await openDownload(ctx, attachmentId, offset, length, undefined);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const { data } of pieces) {
      chunks.push(data);
      total += data.length;
    }
  } finally {
    close();
  }
  const data = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  return { info, data };
}
