import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { AttachmentInfoSchema, AttachmentsService } from "../gen/cyphr/attachments/v1/attachments_pb.js";
import { requireCaller } from "../rpc/caller.js";
import type { AttachmentsContext } from "./context.js";
import { openDownload, readRange } from "./download.js";
import { MAX_CHUNK_BYTES } from "./limits.js";
import { attachmentUsage, deleteAttachment } from "./manage.js";
import type { AttachmentRecord } from "./repo.js";
import { completeUpload, createUpload, putChunk, uploadStatus } from "./upload.js";

/** Thin mapping between AttachmentsService messages and the attachment use cases. */
export function attachmentsService(ctx: AttachmentsContext): ServiceImpl<typeof AttachmentsService> {
  return {
    async createUpload(req, context) {
      const upload = await createUpload(ctx, requireCaller(context), {
        size: req.size,
        sha256: req.sha256,
        chunkSize: req.chunkSize,
        expiresInSeconds: req.expiresInSeconds,
      });
      return { uploadId: upload.uploadId, expiresAt: timestampFromDate(upload.expiresAt) };
    },
    async putChunk(req, context) {
      const received = await putChunk(ctx, requireCaller(context), { uploadId: req.uploadId, offset: req.offset, data: req.data });
      return { receivedBytes: BigInt(received) };
    },
    async getUploadStatus(req, context) {
      const status = await uploadStatus(ctx, requireCaller(context), req.uploadId);
      return {
        size: BigInt(status.upload.size),
        chunkSize: status.upload.chunkSize,
        received: status.received.map((r) => ({ offset: BigInt(r.offset), length: BigInt(r.length) })),
        receivedBytes: BigInt(status.receivedBytes),
        expiresAt: timestampFromDate(status.upload.expiresAt),
      };
    },
    async completeUpload(req, context) {
      return { attachment: info(await completeUpload(ctx, requireCaller(context), req.uploadId)) };
    },
    async *getAttachment(req, context) {
      requireCaller(context);
      const download = await openDownload(ctx, req.attachmentId, req.offset, undefined, context.signal);
      try {
        let first: MessageInitShape<typeof AttachmentInfoSchema> | undefined = info(download.info);
        for await (const piece of download.pieces) {
          yield { info: first, offset: BigInt(piece.offset), data: piece.data };
          first = undefined;
        }
        if (first) yield { info: first, offset: req.offset };
      } finally {
        download.close();
      }
    },
    async readAttachment(req, context) {
      requireCaller(context);
      const read = await readRange(ctx, req.attachmentId, req.offset, req.length);
      return { info: info(read.info), data: read.data };
    },
    async deleteAttachment(req, context) {
      await deleteAttachment(ctx, requireCaller(context), req.id);
      return {};
    },
    async getAttachmentUsage(_req, context) {
      const used = await attachmentUsage(ctx, requireCaller(context));
      return {
        usedBytes: BigInt(used),
        quotaBytes: BigInt(ctx.quotaBytes),
        maxAttachmentBytes: BigInt(ctx.maxBytes),
        maxChunkBytes: MAX_CHUNK_BYTES,
        maxExpiresInSeconds: ctx.ttlSeconds,
      };
    },
  };
}

function info(a: AttachmentRecord): MessageInitShape<typeof AttachmentInfoSchema> {
  return {
    attachmentId: a.attachmentId,
    size: BigInt(a.size),
    sha256: a.sha256,
    chunkSize: a.chunkSize,
    createdAt: timestampFromDate(a.completedAt),
    expiresAt: timestampFromDate(a.expiresAt),
  };
}
