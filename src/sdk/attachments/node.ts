/** Node-only helpers for attachments: files by path (import from here, not from the core index). */
import { createWriteStream, openAsBlob } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Attachments, SentFile } from "./attachments.js";
import type { UploadOptions } from "./upload.js";

/** A file on disk as a Blob, read by range as it uploads (never loaded whole). */
export async function fileSource(filePath: string): Promise<{ blob: Blob; name: string }> {
  return { blob: await openAsBlob(filePath), name: path.basename(filePath) };
}

/**
 * `files.sendFile` for a file on disk: read by range as it uploads, named after the file unless
 * `options.name` says otherwise.
 */
export async function sendFileAt(files: Attachments, chatId: string, filePath: string, options: UploadOptions = {}): Promise<SentFile> {
  const { blob, name } = await fileSource(filePath);
  return files.sendFile(chatId, blob, { name, ...options });
}

/** Writes a download stream to `filePath` (created or truncated), with back-pressure. */
export async function saveToFile(stream: ReadableStream<Uint8Array>, filePath: string): Promise<void> {
  await pipeline(Readable.fromWeb(stream as import("node:stream/web").ReadableStream<Uint8Array>), createWriteStream(filePath));
}
