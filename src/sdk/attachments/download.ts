import type { Client } from "@connectrpc/connect";
import { equalBytes } from "@noble/curves/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { AttachmentsService } from "../../gen/cyphr/attachments/v1/attachments_pb.js";
import { CyphrError } from "../errors.js";
import { SegmentOpener } from "./format.js";
import type { AttachmentRef } from "./reference.js";
import { resumable } from "./retry.js";
import type { CallOptions, Progress } from "./upload.js";

export interface DownloadOptions {
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

/**
 * The file of `ref`, decrypted and checked as it streams (each segment's tag, order and the
 * final flag; the ciphertext's SHA-256 at the end): a failed check ends the stream with a
 * data_loss CyphrError, and no byte of a segment that failed is ever delivered. A lost stream
 * resumes at the first segment not yet delivered. Nothing is read ahead of the consumer
 * beyond one segment.
 */
export function downloadFile(
  client: Client<typeof AttachmentsService>,
  auth: CallOptions,
  ref: AttachmentRef,
  options: DownloadOptions = {},
): ReadableStream<Uint8Array> {
  const pieces = plaintext(client, auth, ref, options);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await pieces.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (error) {
          controller.error(error);
        }
      },
      async cancel() {
        await pieces.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

async function* plaintext(
  client: Client<typeof AttachmentsService>,
  auth: CallOptions,
  ref: AttachmentRef,
  options: DownloadOptions,
): AsyncGenerator<Uint8Array> {
  const hash = sha256.create();
  const opener = new SegmentOpener(ref.key, ref.chunkSize, ref.size, (sealed) => hash.update(sealed));
  let delivered = 0;
  const ready: Uint8Array[] = [];
  const stream = async () => {
    opener.dropPartial();
    const calls = client.getAttachment({ attachmentId: ref.attachmentId, offset: BigInt(opener.consumed) }, await auth());
    return calls[Symbol.asyncIterator]();
  };
  let current: AsyncIterator<{ info?: { size: bigint; sha256: Uint8Array }; data: Uint8Array }> | undefined;
  for (;;) {
    // One message at a time: a failure reopens the stream at the last whole segment.
    const message = await resumable(
      async () => {
        current ??= await stream();
        try {
          return await current.next();
        } catch (error) {
          current = undefined;
          throw error;
        }
      },
      () => opener.consumed,
      options.signal,
    );
    if (message.done) break;
    const { info, data } = message.value;
    if (info && (Number(info.size) !== ref.size || !equalBytes(info.sha256, ref.sha256))) {
      throw new CyphrError("data_loss", "The server holds another attachment under this id than the one the message describes.");
    }
    ready.push(...opener.push(data));
    while (ready.length > 0) {
      const piece = ready.shift()!;
      delivered += piece.length;
      options.onProgress?.({ bytes: delivered, total: ref.plaintextSize });
      if (piece.length > 0) yield piece;
    }
  }
  opener.end();
  if (!equalBytes(hash.digest(), ref.sha256)) throw new CyphrError("data_loss", "The attachment's SHA-256 is not the one its message names.");
  if (delivered !== ref.plaintextSize) throw new CyphrError("data_loss", "The attachment decrypted to another size than its message names.");
}
