/** Encrypted attachments in the SDK (docs/attachments.md). */
export { Attachments, type SentFile } from "./attachments.js";
export type { DownloadOptions } from "./download.js";
export { DEFAULT_CHUNK_SIZE, FORMAT } from "./format.js";
export { type AttachmentRef, decodeReference, encodeReference } from "./reference.js";
export { MAX_TRANSFER_FAILURES } from "./retry.js";
export type { FileSource } from "./source.js";
export type { PendingUpload, Progress, UploadOptions } from "./upload.js";
