import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { NotFoundError, UnavailableError } from "../shared/errors.js";
import { type BlobStore, BlobStoreUnusableError } from "./blob-store.js";

/** The ATTACHMENTS_S3_* settings. */
export interface S3Settings {
  /** Endpoint URL (MinIO, Ceph, a local test server); undefined: AWS for `region`. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  /** Object key prefix, e.g. "attachments/". */
  prefix: string;
  /** Path-style URLs (endpoint/bucket/key), which most S3-compatible servers need. */
  forcePathStyle: boolean;
  /** Static credentials; undefined: the AWS SDK's default chain (environment, instance role). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** ATTACHMENTS_S3_CREATE_BUCKET: create the bucket at start when it does not exist (else the server refuses to start). */
  createBucket: boolean;
}

/**
 * BlobStore on S3-compatible object storage: part i of blob k is the object
 * `<prefix><k>/<i, 6 digits>`. Reads are ranged GETs whose body is consumed as it arrives.
 * Storage failures become UNAVAILABLE (logged by error name only); a missing object, NOT_FOUND.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = "s3";
  private readonly client: S3Client;

  constructor(
    private readonly settings: S3Settings,
    private readonly log: Logger,
  ) {
    this.client = new S3Client({
      endpoint: settings.endpoint,
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      credentials: settings.credentials,
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 5000, requestTimeout: 30_000 },
    });
  }

  /**
   * Fails fast when the bucket is missing (or creates it, with createBucket), refused or out
   * of reach, naming the bucket: better than every upload failing UNAVAILABLE later.
   */
  async open(): Promise<void> {
    const { bucket } = this.settings;
    const where = this.settings.endpoint ?? `AWS region ${this.settings.region}`;
    const status = await this.client.send(new HeadBucketCommand({ Bucket: bucket })).then(
      () => 200,
      (error: unknown) => (error instanceof S3ServiceException ? (error.$metadata.httpStatusCode ?? 0) : 0),
    );
    if (status === 200) return;
    if (status === 404 && this.settings.createBucket) {
      await this.client.send(new CreateBucketCommand({ Bucket: bucket })).catch((error: unknown) => {
        throw new BlobStoreUnusableError(`ATTACHMENTS_S3_BUCKET "${bucket}" does not exist at ${where} and could not be created (${(error as Error).name})`);
      });
      this.log.info({ bucket }, "attachments bucket created (ATTACHMENTS_S3_CREATE_BUCKET)");
      return;
    }
    if (status === 404) {
      throw new BlobStoreUnusableError(
        `ATTACHMENTS_S3_BUCKET "${bucket}" does not exist at ${where}: create it, or set ATTACHMENTS_S3_CREATE_BUCKET=true to let the server create it`,
      );
    }
    if (status === 403)
      throw new BlobStoreUnusableError(`ATTACHMENTS_S3_BUCKET "${bucket}" at ${where}: access denied (check the credentials and the bucket's policy)`);
    throw new BlobStoreUnusableError(`ATTACHMENTS_S3_BUCKET "${bucket}" at ${where} cannot be reached${status ? ` (HTTP ${status})` : ""}`);
  }

  async putPart(key: string, part: number, data: Uint8Array): Promise<void> {
    await this.call("put", () => this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: this.partKey(key, part), Body: data })));
  }

  async *readPart(key: string, part: number, start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    const object = await this.call("get", () =>
      this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.partKey(key, part), Range: `bytes=${start}-${end - 1}` }), {
        abortSignal: signal,
      }),
    );
    const body = object.Body as AsyncIterable<Uint8Array> | undefined;
    if (!body) throw new UnavailableError("attachment storage answered without a body; retry later");
    // Leaving the loop early (the client went away) destroys the body and frees its socket.
    try {
      for await (const piece of body) yield piece;
    } catch (error) {
      if (signal?.aborted) throw error;
      this.log.warn({ operation: "get", err: { name: (error as Error).name } }, "attachment storage read failed");
      throw new UnavailableError("attachment storage is unavailable; retry later");
    }
  }

  async deleteBlob(key: string): Promise<void> {
    for (;;) {
      const listed = await this.call("list", () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.blobPrefix(key), MaxKeys: 1000 })),
      );
      const objects = (listed.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (objects.length === 0) return;
      const deleted = await this.call("delete", () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: objects, Quiet: true } })),
      );
      // Objects the storage refused to delete would be listed again forever: the purge job retries on its next run.
      if ((deleted.Errors ?? []).length > 0) {
        this.log.warn({ operation: "delete", err: { name: deleted.Errors![0]!.Code ?? "unknown" } }, "attachment storage call failed");
        throw new UnavailableError("attachment storage refused to delete some parts; retrying on the next purge");
      }
    }
  }

  async hasBlob(key: string): Promise<boolean> {
    const listed = await this.call("list", () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.blobPrefix(key), MaxKeys: 1000 })),
    );
    return (listed.KeyCount ?? listed.Contents?.length ?? 0) > 0;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private blobPrefix(key: string): string {
    return `${this.settings.prefix}${key}/`;
  }

  private partKey(key: string, part: number): string {
    return `${this.blobPrefix(key)}${String(part).padStart(6, "0")}`;
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof S3ServiceException && (error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404)) {
        throw new NotFoundError("attachment_id: the attachment was deleted or has expired");
      }
      if (error instanceof Error && error.name === "AbortError") throw error;
      this.log.warn(
        { operation, err: { name: (error as Error).name, status: (error as S3ServiceException).$metadata?.httpStatusCode } },
        "attachment storage call failed",
      );
      throw new UnavailableError("attachment storage is unavailable; retry later");
    }
  }
}
