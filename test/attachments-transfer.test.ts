import { randomBytes } from "node:crypto";
import { type Client, Code } from "@connectrpc/connect";
import { concatBytes } from "@noble/hashes/utils.js";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttachmentsService } from "../src/gen/cyphr/attachments/v1/attachments_pb.js";
import { ciphertextSize, SegmentOpener, sealSegment, segmentCount, segmentRange } from "../src/sdk/attachments/format.js";
import { type LocalS3, sha256, startCuttingProxy, startLocalS3, uploadBytes } from "./helpers/attachments.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { findEverywhere } from "./helpers/db-scan.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;
const LIMITS = { ATTACHMENTS_MAX_BYTES: String(8 * MiB), ATTACHMENTS_QUOTA_BYTES: String(12 * MiB) };

let s3: LocalS3;
const servers: Record<string, TestServer> = {};

beforeAll(async () => {
  s3 = await startLocalS3();
  servers.postgres = await startTestServer({ env: LIMITS });
  servers.s3 = await startTestServer({ env: { ...LIMITS, ...s3.env } });
});

afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
  await s3?.close();
});

/** The file sealed in cyphr-attachment-v1 segments of CHUNK bytes, as the SDK uploads it. */
function seal(file: Uint8Array, key: Uint8Array): Uint8Array {
  const n = segmentCount(file.length, CHUNK);
  const parts = Array.from({ length: n }, (_, i) => {
    const { start, end } = segmentRange(i, file.length, CHUNK);
    return sealSegment(key, i, i === n - 1, file.subarray(start, end));
  });
  return concatBytes(...parts);
}

describe.each(["postgres", "s3"])("attachments on the %s BlobStore", (store) => {
  const server = () => servers[store]!;
  const as = (user: RegisteredUser | undefined): Client<typeof AttachmentsService> =>
    clientFor(AttachmentsService, "connect", server().baseUrl, { token: user?.accessToken });
  const newUser = () => registerUser(identityClient("connect", server().baseUrl));
  /** The bytes of `attachmentId` are gone from wherever this store keeps them. */
  const stored = (uploadId: string) => server().app.attachments.store.hasBlob(uploadId);
  const chunkRecords = (uploadId: string) =>
    server().app.pool.oneFirst(sql.unsafe`SELECT count(*)::int FROM attachment_chunks WHERE upload_id = ${uploadId}`) as Promise<number>;
  const uploadIdOf = (attachmentId: string) =>
    server().app.pool.oneFirst(sql.unsafe`SELECT upload_id FROM attachments WHERE attachment_id = ${attachmentId}`) as Promise<string>;
  /** Where this store keeps the bytes: none of them left once purged. */
  const expectPurged = async (uploadId: string, sample: Uint8Array) => {
    expect(await stored(uploadId)).toBe(false);
    if (store === "postgres") expect(await findEverywhere(server().databaseUrl, sample)).toEqual([]);
    else expect(await s3.keys(`attachments/${uploadId}/`)).toEqual([]);
  };
  const purge = async () => {
    await server().app.jobs.run("attachments.expired", new Date(Date.now() + 1000));
    await server().app.jobs.run("attachments.bytes");
  };

  it("uploads 5 MiB in chunks, survives a connection killed halfway by resuming from GetUploadStatus, and another user downloads and decrypts it", async () => {
    const alice = await newUser();
    const bob = await newUser();
    const file = new Uint8Array(randomBytes(5 * MiB));
    const key = new Uint8Array(randomBytes(32));
    const ciphertext = seal(file, key);
    expect(ciphertext.length).toBe(ciphertextSize(file.length, CHUNK));
    const chunks = Math.ceil(ciphertext.length / CHUNK);

    // Alice's connection dies when about half of the ciphertext has gone through it.
    const proxy = await startCuttingProxy(server().port, ciphertext.length / 2);
    const first = clientFor(AttachmentsService, "grpc", proxy.baseUrl, { token: alice.accessToken });
    const { uploadId } = await first.createUpload({ size: BigInt(ciphertext.length), sha256: sha256(ciphertext), chunkSize: CHUNK });
    const chunk = (i: number) => ({ uploadId, offset: BigInt(i * CHUNK), data: ciphertext.subarray(i * CHUNK, (i + 1) * CHUNK) });
    let failedAt = -1;
    for (let i = 0; i < chunks && failedAt < 0; i++) await first.putChunk(chunk(i)).catch(() => (failedAt = i));
    await proxy.cut;
    await proxy.close();
    expect(failedAt).toBeGreaterThan(chunks / 2 - 3);
    expect(failedAt).toBeLessThan(chunks / 2 + 3);

    const again = as(alice);
    const status = await again.getUploadStatus({ uploadId });
    expect(status.size).toBe(BigInt(ciphertext.length));
    expect(status.received[0]).toMatchObject({ offset: 0n });
    const have = status.received.reduce((n, r) => n + Number(r.length), 0);
    expect(have).toBeGreaterThanOrEqual((failedAt - 1) * CHUNK);
    expect(have).toBeLessThan(ciphertext.length);
    expect(Number(status.receivedBytes)).toBe(have);
    for (let i = 0; i < chunks; i++) {
      const covered = status.received.some((r) => BigInt(i * CHUNK) >= r.offset && BigInt(i * CHUNK) < r.offset + r.length);
      if (!covered) await again.putChunk(chunk(i));
    }
    await expectRpcError(
      again.putChunk({ uploadId, offset: 1n, data: new Uint8Array(CHUNK) }),
      Code.InvalidArgument,
      "offset must be a multiple of chunk_size",
    );
    const { attachment } = await again.completeUpload({ uploadId });
    expect(attachment).toMatchObject({ size: BigInt(ciphertext.length), chunkSize: CHUNK, sha256: sha256(ciphertext) });
    expect(attachment!.attachmentId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(attachment!.attachmentId).not.toBe(uploadId);
    // Completing again (a lost answer) returns the same attachment.
    expect((await again.completeUpload({ uploadId })).attachment!.attachmentId).toBe(attachment!.attachmentId);

    const pieces: Uint8Array[] = [];
    const opener = new SegmentOpener(key, CHUNK, ciphertext.length);
    let messages = 0;
    for await (const res of as(bob).getAttachment({ attachmentId: attachment!.attachmentId })) {
      if (messages++ === 0) expect(res.info).toMatchObject({ attachmentId: attachment!.attachmentId, size: BigInt(ciphertext.length) });
      else expect(res.info).toBeUndefined();
      expect(res.data.length).toBeLessThanOrEqual(MiB);
      pieces.push(...opener.push(res.data));
    }
    opener.end();
    expect(Buffer.from(concatBytes(...pieces)).equals(Buffer.from(file))).toBe(true);

    // A stream resumed at an offset, and a ranged unary read, return exactly those bytes.
    const from = 3 * CHUNK + 17;
    const rest: Uint8Array[] = [];
    for await (const res of as(bob).getAttachment({ attachmentId: attachment!.attachmentId, offset: BigInt(from) })) rest.push(res.data);
    expect(Buffer.from(concatBytes(...rest)).equals(Buffer.from(ciphertext.subarray(from)))).toBe(true);
    const range = await as(bob).readAttachment({ attachmentId: attachment!.attachmentId, offset: BigInt(CHUNK - 5), length: 1000 });
    expect(Buffer.from(range.data).equals(Buffer.from(ciphertext.subarray(CHUNK - 5, CHUNK + 995)))).toBe(true);
    const tail = await as(bob).readAttachment({ attachmentId: attachment!.attachmentId, offset: BigInt(ciphertext.length - 10), length: 1000 });
    expect(tail.data.length).toBe(10);
    if (store === "postgres") expect(await findEverywhere(server().databaseUrl, file.subarray(1000, 1032))).toEqual([]);
  });

  it("discards an upload whose bytes do not have the declared SHA-256, keeping nothing", async () => {
    const alice = as(await newUser());
    const bytes = new Uint8Array(randomBytes(100_000));
    const { uploadId } = await alice.createUpload({ size: BigInt(bytes.length), sha256: sha256(new Uint8Array(10)), chunkSize: 65_536 });
    await alice.putChunk({ uploadId, offset: 0n, data: bytes.subarray(0, 65_536) });
    await alice.putChunk({ uploadId, offset: 65_536n, data: bytes.subarray(65_536) });
    expect(await stored(uploadId)).toBe(true);
    await expectRpcError(alice.completeUpload({ uploadId }), Code.FailedPrecondition, "do not have the declared SHA-256");
    await expectRpcError(alice.getUploadStatus({ uploadId }), Code.NotFound, "no such unfinished upload");
    expect((await alice.getAttachmentUsage({})).usedBytes).toBe(0n);
    await purge();
    await expectPurged(uploadId, bytes.subarray(0, 32));
  });

  it("accepts the same chunk twice and refuses a different chunk at the same offset", async () => {
    const alice = as(await newUser());
    const bytes = new Uint8Array(randomBytes(70_000));
    const { uploadId } = await alice.createUpload({ size: BigInt(bytes.length), sha256: sha256(bytes), chunkSize: 65_536 });
    expect((await alice.putChunk({ uploadId, offset: 0n, data: bytes.subarray(0, 65_536) })).receivedBytes).toBe(65_536n);
    expect((await alice.putChunk({ uploadId, offset: 0n, data: bytes.subarray(0, 65_536) })).receivedBytes).toBe(65_536n);
    const other = bytes.slice(0, 65_536);
    other[7]! ^= 1;
    await expectRpcError(alice.putChunk({ uploadId, offset: 0n, data: other }), Code.FailedPrecondition, "a different chunk is stored at this offset");
    await expectRpcError(alice.completeUpload({ uploadId }), Code.FailedPrecondition, "bytes 65536 to 69999 have not arrived");
    await expectRpcError(
      alice.putChunk({ uploadId, offset: 65_536n, data: bytes.subarray(65_536, 65_600) }),
      Code.InvalidArgument,
      "must be 4464 bytes, got 64",
    );
    await alice.putChunk({ uploadId, offset: 65_536n, data: bytes.subarray(65_536) });
    expect(await chunkRecords(uploadId)).toBe(2);
    const { attachment } = await alice.completeUpload({ uploadId });
    expect((await alice.readAttachment({ attachmentId: attachment!.attachmentId, offset: 0n, length: 100 })).data).toEqual(bytes.subarray(0, 100));
    // The chunk bookkeeping goes at completion (the storage inventory says so); the bytes stay.
    expect(await chunkRecords(uploadId)).toBe(0);
    expect(await stored(uploadId)).toBe(true);
  });

  it("refuses an attachment over ATTACHMENTS_MAX_BYTES and uploads beyond the account's quota, even when they race", async () => {
    const user = await newUser();
    const alice = as(user);
    const digest = sha256(new Uint8Array(1));
    await expectRpcError(
      alice.createUpload({ size: BigInt(8 * MiB + 1), sha256: digest, chunkSize: MiB }),
      Code.InvalidArgument,
      `size must be 1 to ${8 * MiB} bytes`,
    );
    await expectRpcError(alice.createUpload({ size: 10n, sha256: digest, chunkSize: 2 * MiB }), Code.InvalidArgument, "chunk_size must be 65536 to 1048576");
    await expectRpcError(alice.createUpload({ size: 10n, sha256: new Uint8Array(31), chunkSize: MiB }), Code.InvalidArgument, "sha256 must be 32 bytes");
    // Twelve MiB of quota; five concurrent 3 MiB uploads: exactly four fit.
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => alice.createUpload({ size: BigInt(3 * MiB), sha256: digest, chunkSize: MiB })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(4);
    const refused = results.find((r) => r.status === "rejected");
    await expectRpcError(Promise.reject(refused!.reason), Code.ResourceExhausted, "attachment quota exceeded");
    expect(await alice.getAttachmentUsage({})).toMatchObject({
      usedBytes: BigInt(12 * MiB),
      quotaBytes: BigInt(12 * MiB),
      maxAttachmentBytes: BigInt(8 * MiB),
    });
    // Abandoning an upload frees its share at once.
    const first = results.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<{ uploadId: string }>;
    await alice.deleteAttachment({ id: first.value.uploadId });
    await alice.createUpload({ size: BigInt(3 * MiB), sha256: digest, chunkSize: MiB });
  });

  it("answers NOT_FOUND at once for an expired attachment, and the purge job removes its bytes", async () => {
    const alice = as(await newUser());
    const bob = as(await newUser());
    const bytes = new Uint8Array(randomBytes(80_000));
    const attachmentId = await uploadBytes(alice, bytes, { expiresInSeconds: 1 });
    const { info } = await bob.readAttachment({ attachmentId, offset: 0n, length: 10 });
    expect(info!.expiresAt!.seconds - info!.createdAt!.seconds).toBeLessThanOrEqual(2n);
    const uploadId = await uploadIdOf(attachmentId);
    // Reads follow the database's clock: the first one after the lifetime is NOT_FOUND.
    await expect
      .poll(
        () =>
          bob.readAttachment({ attachmentId, offset: 0n, length: 10 }).then(
            () => "readable",
            (e: unknown) => String(e),
          ),
        { timeout: 10_000, interval: 100 },
      )
      .toMatch("no such attachment");
    await expectRpcError(bob.readAttachment({ attachmentId, offset: 0n, length: 10 }), Code.NotFound, "no such attachment");
    await expectRpcError(
      (async () => {
        for await (const _ of bob.getAttachment({ attachmentId })) void _;
      })(),
      Code.NotFound,
      "no such attachment",
    );
    expect(await stored(uploadId)).toBe(true);
    await purge();
    await expectPurged(uploadId, bytes.subarray(5000, 5032));
  });

  it("removes an upload not completed within ATTACHMENTS_UPLOAD_TTL_SECONDS (24 h): kept a minute before, its bytes purged after, its quota freed", async () => {
    const alice = as(await newUser());
    const bytes = new Uint8Array(randomBytes(100_000));
    const { uploadId, expiresAt } = await alice.createUpload({ size: BigInt(bytes.length), sha256: sha256(bytes), chunkSize: 65_536 });
    await alice.putChunk({ uploadId, offset: 0n, data: bytes.subarray(0, 65_536) });
    const removedAt = Number(expiresAt!.seconds) * 1000;
    expect(removedAt - Date.now()).toBeGreaterThan(86_400_000 - 60_000);
    expect(removedAt - Date.now()).toBeLessThanOrEqual(86_400_000);
    await server().app.jobs.run("attachments.expired", new Date(removedAt - 60_000));
    await server().app.jobs.run("attachments.bytes");
    expect((await alice.getUploadStatus({ uploadId })).receivedBytes).toBe(65_536n);
    await server().app.jobs.run("attachments.expired", new Date(removedAt + 1000));
    await server().app.jobs.run("attachments.bytes");
    await expectRpcError(alice.getUploadStatus({ uploadId }), Code.NotFound, "no such unfinished upload");
    expect((await alice.getAttachmentUsage({})).usedBytes).toBe(0n);
    await expectPurged(uploadId, bytes.subarray(1000, 1032));
  });

  it("gives the same file uploaded twice two unrelated attachment ids, and works over gRPC-Web (every call but the download stream is unary)", async () => {
    const user = await newUser();
    const web = clientFor(AttachmentsService, "grpc-web", server().baseUrl, { token: user.accessToken });
    const bytes = new Uint8Array(randomBytes(100_000));
    const first = await uploadBytes(web, bytes);
    const second = await uploadBytes(web, bytes);
    expect(first).not.toBe(second);
    expect(first.slice(0, 8)).not.toBe(second.slice(0, 8));
    const range = await web.readAttachment({ attachmentId: second, offset: 65_000n, length: 2000 });
    expect(Buffer.from(range.data).equals(Buffer.from(bytes.subarray(65_000, 67_000)))).toBe(true);
    expect(Buffer.from(range.info!.sha256).equals(Buffer.from(sha256(bytes)))).toBe(true);
    await web.deleteAttachment({ id: first });
    await expectRpcError(web.readAttachment({ attachmentId: first, offset: 0n, length: 1 }), Code.NotFound, "no such attachment");
  });

  it("lets only the uploader delete; deleted attachments answer NOT_FOUND at once and their bytes are purged", async () => {
    const alice = as(await newUser());
    const bob = as(await newUser());
    const bytes = new Uint8Array(randomBytes(150_000));
    const attachmentId = await uploadBytes(alice, bytes);
    const uploadId = await uploadIdOf(attachmentId);
    if (store === "s3") expect((await s3.keys(`attachments/${uploadId}/`)).length).toBe(3);
    await expectRpcError(bob.deleteAttachment({ id: attachmentId }), Code.NotFound, "no such attachment or unfinished upload of yours");
    await bob.readAttachment({ attachmentId, offset: 0n, length: 10 });
    if (store === "postgres")
      expect((await findEverywhere(server().databaseUrl, bytes.subarray(70_000, 70_032))).map((h) => h.table)).toEqual(["public.attachment_blob_parts"]);
    await alice.deleteAttachment({ id: attachmentId });
    await expectRpcError(bob.readAttachment({ attachmentId, offset: 0n, length: 10 }), Code.NotFound, "no such attachment");
    await expectRpcError(alice.deleteAttachment({ id: attachmentId }), Code.NotFound, "no such attachment");
    await purge();
    await expectPurged(uploadId, bytes.subarray(70_000, 70_032));
  });

  it("refuses every attachment call without an access token", async () => {
    const alice = as(await newUser());
    const attachmentId = await uploadBytes(alice, new Uint8Array(randomBytes(1000)));
    const anonymous = as(undefined);
    await expectRpcError(anonymous.readAttachment({ attachmentId, offset: 0n, length: 10 }), Code.Unauthenticated, "authorization");
    await expectRpcError(
      (async () => {
        for await (const _ of anonymous.getAttachment({ attachmentId })) void _;
      })(),
      Code.Unauthenticated,
      "authorization",
    );
    await expectRpcError(anonymous.createUpload({ size: 10n, sha256: sha256(new Uint8Array(1)), chunkSize: 65_536 }), Code.Unauthenticated, "authorization");
  });
});
