import { randomBytes } from "node:crypto";
import net from "node:net";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigError, loadConfig } from "../src/config.js";
import { AttachmentsService } from "../src/gen/cyphr/attachments/v1/attachments_pb.js";
import { type LocalS3, sha256, startLocalS3, uploadBytes } from "./helpers/attachments.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { registerUser } from "./helpers/users.js";

describe("attachment settings", () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      return (error as ConfigError).problems;
    }
    return [];
  };

  it("default to the issue's limits and the PostgreSQL store", () => {
    expect(loadConfig({})).toMatchObject({
      attachmentsStore: "postgres",
      attachmentsMaxBytes: 100 * 1024 * 1024,
      attachmentsQuotaBytes: 1024 ** 3,
      attachmentsUploadTtlSeconds: 86_400,
      attachmentsTtlSeconds: 30 * 86_400,
      attachmentsS3: undefined,
    });
  });

  it("name every problem with the S3 settings", () => {
    expect(problems({ ATTACHMENTS_STORE: "s3" })).toEqual(["ATTACHMENTS_STORE=s3 needs ATTACHMENTS_S3_BUCKET"]);
    expect(problems({ ATTACHMENTS_STORE: "s3", ATTACHMENTS_S3_BUCKET: "b", ATTACHMENTS_S3_ACCESS_KEY_ID: "k" })).toEqual([
      "ATTACHMENTS_S3_ACCESS_KEY_ID and ATTACHMENTS_S3_SECRET_ACCESS_KEY must be set together",
    ]);
    expect(problems({ ATTACHMENTS_S3_ENDPOINT: "minio:9000", ATTACHMENTS_STORE: "disk" })).toEqual([
      'ATTACHMENTS_STORE must be one of postgres, s3, got "disk"',
      "ATTACHMENTS_S3_ENDPOINT must be an http:// or https:// URL",
    ]);
    const s3 = loadConfig({ ATTACHMENTS_STORE: "s3", ATTACHMENTS_S3_BUCKET: "files", ATTACHMENTS_S3_ENDPOINT: "http://127.0.0.1:9000" });
    expect(s3.attachmentsS3).toEqual({
      endpoint: "http://127.0.0.1:9000",
      region: "us-east-1",
      bucket: "files",
      prefix: "attachments/",
      forcePathStyle: true,
      credentials: undefined,
      createBucket: false,
    });
    expect(problems({ ATTACHMENTS_S3_BUCKET: "b", ATTACHMENTS_S3_CREATE_BUCKET: "yes" })).toEqual([
      'ATTACHMENTS_S3_CREATE_BUCKET must be one of true, false, got "yes"',
    ]);
  });
});

describe("the S3 bucket at start", () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3();
  });
  afterAll(() => s3?.close());

  it("a missing bucket stops the server from starting, with a message naming it", async () => {
    const env = { ...s3.env, ATTACHMENTS_S3_BUCKET: "no-such-bucket" };
    await expect(startTestServer({ env })).rejects.toThrow(
      `ATTACHMENTS_S3_BUCKET "no-such-bucket" does not exist at ${s3.endpoint}: create it, or set ATTACHMENTS_S3_CREATE_BUCKET=true`,
    );
  });

  it("so does storage that cannot be reached", async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const env = { ...s3.env, ATTACHMENTS_S3_ENDPOINT: `http://127.0.0.1:${closed}` };
    await expect(startTestServer({ env })).rejects.toThrow(`ATTACHMENTS_S3_BUCKET "${s3.bucket}" at http://127.0.0.1:${closed} cannot be reached`);
  });

  it("with ATTACHMENTS_S3_CREATE_BUCKET=true the server creates the bucket and stores attachments in it", async () => {
    const server = await startTestServer({ env: { ...s3.env, ATTACHMENTS_S3_BUCKET: "made-at-start", ATTACHMENTS_S3_CREATE_BUCKET: "true" } });
    try {
      const user = await registerUser(identityClient("connect", server.baseUrl));
      const files = clientFor(AttachmentsService, "connect", server.baseUrl, { token: user.accessToken });
      const bytes = new Uint8Array(randomBytes(70_000));
      const attachmentId = await uploadBytes(files, bytes);
      expect((await files.readAttachment({ attachmentId, offset: 0n, length: 100 })).data).toEqual(bytes.subarray(0, 100));
      expect(await s3.keys("attachments/", "made-at-start")).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});

describe("attachment reads at once", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ATTACHMENTS_MAX_READS: "1" } });
  });
  afterAll(() => server.close());

  it("are bounded by ATTACHMENTS_MAX_READS: one more is RESOURCE_EXHAUSTED with retry-after, and the slot comes back when the stream ends", async () => {
    const user = await registerUser(identityClient("connect", server.baseUrl));
    const files = clientFor(AttachmentsService, "grpc", server.baseUrl, { token: user.accessToken });
    // 4 MiB: far more than HTTP/2 flow control lets the server write ahead of a client that stops reading.
    const attachmentId = await uploadBytes(files, new Uint8Array(randomBytes(4 * 1024 * 1024)), { chunkSize: 1024 * 1024 });
    // A stream that has taken its first message and then waits holds the one slot.
    const reading = files.getAttachment({ attachmentId })[Symbol.asyncIterator]();
    expect((await reading.next()).value.info.attachmentId).toBe(attachmentId);
    const refused = await expectRpcError(
      files.readAttachment({ attachmentId, offset: 0n, length: 10 }),
      Code.ResourceExhausted,
      "serving 1 attachment reads already",
    );
    expect(refused.metadata.get("retry-after")).toBe("1");
    while (!(await reading.next()).done);
    // The slot is released when the handler ends, just after the client saw the stream's end.
    await expect.poll(() => server.app.attachments.reads.inUse).toBe(0);
    expect((await files.readAttachment({ attachmentId, offset: 0n, length: 10 })).data).toHaveLength(10);
    await expectRpcError(files.readAttachment({ attachmentId, offset: 0n, length: 2 * 1024 * 1024 }), Code.InvalidArgument, "length must be 1 to 1048576");
    await expectRpcError(files.readAttachment({ attachmentId, offset: 10_000_000n, length: 1 }), Code.InvalidArgument, "beyond the attachment's end");
    await expectRpcError(files.readAttachment({ attachmentId: "not-an-id", offset: 0n, length: 1 }), Code.InvalidArgument, "attachment_id must be a UUID");
    await expectRpcError(
      files.createUpload({ size: 10n, sha256: sha256(new Uint8Array(1)), chunkSize: 65_536, expiresInSeconds: 31 * 86_400 }),
      Code.InvalidArgument,
      "expires_in_seconds must be 0",
    );
  });
});
