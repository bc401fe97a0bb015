import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { Client } from "@connectrpc/connect";
import S3rver from "s3rver";
import type { AttachmentsService } from "../../src/gen/cyphr/attachments/v1/attachments_pb.js";

/** A local S3-API server (s3rver) in a temporary folder, with one bucket, for the S3 BlobStore. */
export interface LocalS3 {
  endpoint: string;
  bucket: string;
  /** The server environment that makes a Cyphr server store attachments here. */
  env: Record<string, string>;
  /** Object keys stored under `prefix` (in `bucket`, by default the one made at start). */
  keys(prefix?: string, bucket?: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startLocalS3(bucket = "cyphr-attachments"): Promise<LocalS3> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-s3-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint,
    bucket,
    env: {
      ATTACHMENTS_STORE: "s3",
      ATTACHMENTS_S3_ENDPOINT: endpoint,
      ATTACHMENTS_S3_BUCKET: bucket,
      ATTACHMENTS_S3_ACCESS_KEY_ID: credentials.accessKeyId,
      ATTACHMENTS_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    async keys(prefix = "", inBucket = bucket) {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: inBucket, Prefix: prefix }));
      return (listed.Contents ?? []).map((o) => o.Key!);
    },
    async close() {
      client.destroy();
      await server.close();
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** Uploads `bytes` as one attachment through the raw RPCs and returns its id. */
export async function uploadBytes(
  client: Client<typeof AttachmentsService>,
  bytes: Uint8Array,
  options: { chunkSize?: number; expiresInSeconds?: number } = {},
): Promise<string> {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const { uploadId } = await client.createUpload({
    size: BigInt(bytes.length),
    sha256: sha256(bytes),
    chunkSize,
    expiresInSeconds: options.expiresInSeconds ?? 0,
  });
  for (let at = 0; at < bytes.length; at += chunkSize) await client.putChunk({ uploadId, offset: BigInt(at), data: bytes.subarray(at, at + chunkSize) });
  const { attachment } = await client.completeUpload({ uploadId });
  return attachment!.attachmentId;
}

/**
 * A TCP proxy to 127.0.0.1:`targetPort` that kills the connection (both sockets destroyed)
 * once `cutAfterBytes` bytes went through it (both directions counted), once; later
 * connections pass untouched. The client sees a connection dropped in the middle of its
 * upload or download.
 */
export async function startCuttingProxy(targetPort: number, cutAfterBytes: number): Promise<{ baseUrl: string; cut: Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let forwarded = 0;
  let cutDone = false;
  let onCut = () => {};
  const cut = new Promise<void>((resolve) => (onCut = resolve));
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    const relay = (from: net.Socket, to: net.Socket) =>
      from.on("data", (data: Buffer) => {
        forwarded += data.length;
        if (!cutDone && forwarded >= cutAfterBytes) {
          cutDone = true;
          client.destroy();
          upstream.destroy();
          onCut();
          return;
        }
        to.write(data);
      });
    relay(client, upstream);
    relay(upstream, client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    cut,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
