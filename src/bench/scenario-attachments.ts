import { createHash, randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { AttachmentsService } from "../gen/cyphr/attachments/v1/attachments_pb.js";
import type { BenchContext } from "./context.js";
import { note } from "./progress.js";
import { authed, connection } from "./rpc.js";
import { registerUsers, runTag } from "./users.js";

const MiB = 2 ** 20;
const CHUNK = MiB;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface AttachmentsResult {
  /** Attachment size, MiB (ciphertext, as the server sees it). */
  sizeMiB: number;
  /** Upload (CreateUpload, 1 MiB PutChunks 4 at a time, CompleteUpload with its re-hash), MiB/s. */
  uploadMiBPerSecond: number;
  /** CompleteUpload alone (reads every part back and hashes it), ms. */
  completeMs: number;
  downloads: {
    /** "full speed", "slow reader" (pauses after every message) or "3 streams in a row". */
    reader: string;
    seconds: number;
    mibPerSecond: number;
    /** Server RSS after a full GC before the download, and the highest seen while it streamed, MiB. */
    rssBeforeMiB: number;
    rssPeakMiB: number;
    /** Server heap used before (after GC) and the highest seen while it streamed, MiB. */
    heapBeforeMiB: number;
    heapPeakMiB: number;
    /** Server memory outside the JS heap (Buffers: query results, HTTP/2 frames), before and peak, MiB. */
    externalBeforeMiB: number;
    externalPeakMiB: number;
    /** Server RSS and external memory after the stream ended and a full GC, MiB. */
    rssAfterMiB: number;
    externalAfterMiB: number;
    /** The downloaded bytes hash to what was uploaded. */
    intact: boolean;
  }[];
}

/**
 * Scenario 6: one attachment of `attachmentMiB` MiB is uploaded, then streamed with GetAttachment
 * by a reader as fast as loopback, one that pauses 20 ms after every message, and one that
 * streams it three times in a row, while the server's RSS, heap and external memory are sampled
 * every 50 ms: with back-pressure the server never holds the file, so the peaks do not grow with
 * the bytes streamed or with how slowly they are read.
 */
export async function runAttachments(ctx: BenchContext, attachmentMiB: number): Promise<AttachmentsResult> {
  const server = ctx.servers[0]!;
  const [user] = await registerUsers(ctx.setup, `f${runTag()}`, 1);
  const auth = authed(user!.accessToken);
  const client = createClient(AttachmentsService, connection(server.baseUrl));
  const size = attachmentMiB * MiB;
  note(`  uploading a ${attachmentMiB} MiB attachment`);
  // The "ciphertext": random bytes, generated chunk by chunk from a seed so the client holds one chunk at a time.
  const seed = randomBytes(32);
  const chunkAt = (i: number) => {
    const out = Buffer.alloc(Math.min(CHUNK, size - i * CHUNK));
    for (let at = 0, n = 0; at < out.length; at += 32, n++) createHash("sha256").update(seed).update(`${i}:${n}`).digest().copy(out, at);
    return out;
  };
  const chunks = Math.ceil(size / CHUNK);
  const whole = createHash("sha256");
  for (let i = 0; i < chunks; i++) whole.update(chunkAt(i));
  const digest = whole.digest();
  const t0 = performance.now();
  const { uploadId } = await client.createUpload({ size: BigInt(size), sha256: digest, chunkSize: CHUNK }, auth);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = next++; i < chunks; i = next++) await client.putChunk({ uploadId, offset: BigInt(i * CHUNK), data: chunkAt(i) }, auth);
    }),
  );
  const tComplete = performance.now();
  const { attachment } = await client.completeUpload({ uploadId }, auth);
  const t1 = performance.now();
  const downloads: AttachmentsResult["downloads"] = [];
  // The third reader streams it three times back to back: 300 MiB through the server, to show the peak does not grow with what was streamed.
  for (const [reader, pauseMs, times] of [
    ["full speed", 0, 1],
    ["slow reader", 20, 1],
    ["3 streams in a row", 0, 3],
  ] as const) {
    note(`  streaming it (${reader})`);
    const before = await server.stats(true);
    let rssPeak = before.memory.rss;
    let heapPeak = before.memory.heapUsed;
    let externalPeak = before.memory.external;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await server.stats(false);
        rssPeak = Math.max(rssPeak, s.memory.rss);
        heapPeak = Math.max(heapPeak, s.memory.heapUsed);
        externalPeak = Math.max(externalPeak, s.memory.external);
        await sleep(50);
      }
    })();
    let intact = true;
    const started = performance.now();
    for (let round = 0; round < times; round++) {
      const hash = createHash("sha256");
      for await (const res of client.getAttachment({ attachmentId: attachment!.attachmentId }, auth)) {
        hash.update(res.data);
        if (pauseMs > 0) await sleep(pauseMs);
      }
      intact &&= hash.digest().equals(digest);
    }
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    const after = await server.stats(true);
    downloads.push({
      reader,
      seconds: round(seconds, 2),
      mibPerSecond: round((times * attachmentMiB) / seconds, 1),
      rssBeforeMiB: round(before.memory.rss / MiB, 1),
      rssPeakMiB: round(rssPeak / MiB, 1),
      heapBeforeMiB: round(before.memory.heapUsed / MiB, 1),
      heapPeakMiB: round(heapPeak / MiB, 1),
      externalBeforeMiB: round(before.memory.external / MiB, 1),
      externalPeakMiB: round(externalPeak / MiB, 1),
      rssAfterMiB: round(after.memory.rss / MiB, 1),
      externalAfterMiB: round(after.memory.external / MiB, 1),
      intact,
    });
  }
  return { sizeMiB: attachmentMiB, uploadMiBPerSecond: round(attachmentMiB / ((t1 - t0) / 1000), 1), completeMs: Math.round(t1 - tComplete), downloads };
}

function round(value: number, digits: number): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}
