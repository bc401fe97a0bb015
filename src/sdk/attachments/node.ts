/** Node-only helpers for attachments: files by path (import from here, not from the core index). */
import { createWriteStream, openAsBlob } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** A file on disk as a Blob, read by range as it uploads (never loaded whole). */
export async function fileSource(filePath: string): Promise<{ blob: Blob; name: string }> {
  return { blob: await openAsBlob(filePath), name: path.basename(filePath) };
}

/** Writes a download stream to `filePath` (created or truncated), with back-pressure. */
export async function saveToFile(stream: ReadableStream<Uint8Array>, filePath: string): Promise<void> {
  await pipeline(Readable.fromWeb(stream as import("node:stream/web").ReadableStream<Uint8Array>), createWriteStream(filePath));
}

