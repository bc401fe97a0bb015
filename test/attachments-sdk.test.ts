import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { concatBytes } from "@noble/hashes/utils.js";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MessagingService } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { fileSource, saveToFile } from "../src/sdk/attachments/node.js";
import { type AttachmentRef, Attachments, type PendingUpload, type Progress } from "../src/sdk/index.js";
import { MlsDevice } from "../src/sdk/mls/mls-device.js";
import { MemoryStore } from "../src/sdk/store.js";
import { startCuttingProxy } from "./helpers/attachments.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { findEverywhere } from "./helpers/db-scan.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const MiB = 1024 * 1024;

/** An SDK device: the MLS engine and Attachments over one transport (to `baseUrl`, the server unless a proxy is given). */
function device(user: RegisteredUser, options: { baseUrl?: string; interceptors?: Interceptor[]; protocol?: "grpc" | "connect" } = {}) {
  const baseUrl = options.baseUrl ?? server.baseUrl;
  const interceptors = options.interceptors ?? [];
  const transport =
    options.protocol === "grpc" ? createGrpcTransport({ baseUrl, interceptors }) : createConnectTransport({ baseUrl, httpVersion: "2", interceptors });
  const tokens = { accessToken: async () => user.accessToken };
  const mls = new MlsDevice(
    transport,
    tokens,
    { cyphrId: user.cyphrId, deviceId: user.device.deviceId, signingSecretKey: user.device.deviceSecretKey },
    new MemoryStore(),
  );
  return { mls, files: new Attachments(transport, tokens, mls) };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
  return concatBytes(...parts);
}

/** Fails the first PutChunk at `offset` as a lost connection would. */
function dropOnce(offset: bigint): Interceptor {
  let dropped = false;
  return (next) => async (req) => {
    if (!dropped && req.method.name === "PutChunk" && (req.message as unknown as { offset: bigint }).offset === offset) {
      dropped = true;
      throw new ConnectError("connection lost", Code.Unavailable);
    }
    return next(req);
  };
}

async function chatOfTwo() {
  const alice = await registerUser(identityClient("connect", server.baseUrl));
  const bob = await registerUser(identityClient("connect", server.baseUrl));
  return { alice, bob };
}

describe("files through the SDK", () => {
  it("sends a file into an MLS chat; the recipient finds it in history and downloads it decrypted, across a lost upload chunk and a cut download", async () => {
    const { alice, bob } = await chatOfTwo();
    const a = device(alice, { interceptors: [dropOnce(BigInt(MiB))] });
    const b = device(bob);
    for (const d of [a, b]) await d.mls.ensureKeyPackages(2);
    const { chatId } = await a.mls.startDirectChat(bob.cyphrId);
    await b.mls.acceptWelcome(chatId);

    const file = new Uint8Array(randomBytes(3 * MiB + 777));
    const progress: Progress[] = [];
    const sent = await a.files.sendFile(chatId, new Blob([file]), { name: "holiday.jpg", mediaType: "image/jpeg", onProgress: (p) => progress.push(p) });
    expect(progress.at(-1)).toEqual({ bytes: file.length, total: file.length });
    expect(sent.reference).toMatchObject({ name: "holiday.jpg", plaintextSize: file.length, size: file.length + 4 * 16 });

    const message = (await b.mls.history(chatId)).at(-1)!;
    expect(message.readable).toBe(true);
    const ref = message.readable ? Attachments.referenceIn(message.bytes) : undefined;
    expect(ref).toMatchObject({ attachmentId: sent.reference.attachmentId, name: "holiday.jpg", mediaType: "image/jpeg" });

    // Bob's connection is cut when about half of the ciphertext has come down; the stream resumes.
    const proxy = await startCuttingProxy(server.port, 1.5 * MiB);
    const throughProxy = device(bob, { baseUrl: proxy.baseUrl, protocol: "grpc" });
    const received = await readAll(throughProxy.files.download(ref!));
    await proxy.cut;
    await proxy.close();
    expect(Buffer.from(received).equals(Buffer.from(file))).toBe(true);

    // The server holds ciphertext only, and not the reference (it travelled inside the MLS message).
    expect(await findEverywhere(server.databaseUrl, file.subarray(MiB, MiB + 32))).toEqual([]);
    expect(await findEverywhere(server.databaseUrl, ref!.key)).toEqual([]);
  });

  it("sends a file that disappears with its message: the chat's timer as expiresInSeconds, kept until the timer has passed, then both purged", async () => {
    const { alice, bob } = await chatOfTwo();
    const a = device(alice);
    const b = device(bob);
    for (const d of [a, b]) await d.mls.ensureKeyPackages(2);
    const { chatId } = await a.mls.startDirectChat(bob.cyphrId);
    await b.mls.acceptWelcome(chatId);
    const timer = 3600;
    await clientFor(MessagingService, "connect", server.baseUrl, { token: alice.accessToken }).setChatTimer({ chatId, timerSeconds: timer });

    const file = new Uint8Array(randomBytes(100_000));
    const sent = await a.files.sendFile(chatId, new Blob([file]), { chunkSize: 64 * 1024, expiresInSeconds: timer });
    const millis = (column: string) => sql.fragment`(extract(epoch FROM ${sql.identifier(column.split("."))}) * 1000)::float8`;
    const row = await server.app.pool.one(sql.type(
      z.object({ upload_id: z.string(), completed_at: z.number(), expires_at: z.number(), message_expires_at: z.number() }),
    )`
      SELECT a.upload_id, ${millis("a.completed_at")} AS completed_at, ${millis("a.expires_at")} AS expires_at, ${millis("m.expires_at")} AS message_expires_at
      FROM attachments a, messages m WHERE a.attachment_id = ${sent.reference.attachmentId} AND m.id = ${sent.messageId}`);
    expect(row.expires_at - row.completed_at).toBe(timer * 1000);
    // The attachment completed just before its message was sent: it never goes before the message.
    expect(row.message_expires_at - row.expires_at).toBeGreaterThanOrEqual(0);
    expect(row.message_expires_at - row.expires_at).toBeLessThan(30_000);

    const purgeAt = async (at: number) => {
      await server.app.jobs.run("messaging.expired-messages", new Date(at));
      await server.app.jobs.run("attachments.expired", new Date(at));
      await server.app.jobs.run("attachments.bytes");
    };
    // A minute before the timer: both stay, and Bob still downloads the file.
    await purgeAt(row.expires_at - 60_000);
    expect(await server.app.attachments.store.hasBlob(row.upload_id)).toBe(true);
    expect(Buffer.from(await readAll(b.files.download(sent.reference))).equals(Buffer.from(file))).toBe(true);
    // Once it has passed: the message is purged and so are the attachment's row and bytes.
    await purgeAt(row.message_expires_at + 1000);
    expect(await server.app.attachments.store.hasBlob(row.upload_id)).toBe(false);
    expect(await server.app.pool.exists(sql.unsafe`SELECT 1 FROM attachments WHERE upload_id = ${row.upload_id}`)).toBe(false);
    expect(await server.app.pool.exists(sql.unsafe`SELECT 1 FROM messages WHERE id = ${sent.messageId}`)).toBe(false);
  });

  it("uploads a file by path in Node and saves a download to a file", async () => {
    const { alice, bob } = await chatOfTwo();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-files-"));
    const file = new Uint8Array(randomBytes(200_000));
    await fs.writeFile(path.join(dir, "notes.bin"), file);
    const source = await fileSource(path.join(dir, "notes.bin"));
    const ref = await device(alice).files.upload(source.blob, { name: source.name, chunkSize: 64 * 1024 });
    expect(ref).toMatchObject({ name: "notes.bin", chunkSize: 64 * 1024, plaintextSize: 200_000 });
    await saveToFile(device(bob).files.download(ref), path.join(dir, "copy.bin"));
    expect((await fs.readFile(path.join(dir, "copy.bin"))).equals(Buffer.from(file))).toBe(true);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("resumes an upload in a new process from the pending upload it was told about", async () => {
    const { alice, bob } = await chatOfTwo();
    const file = new Uint8Array(randomBytes(5 * 64 * 1024));
    let pending: PendingUpload | undefined;
    // The first process dies after its second chunk.
    let puts = 0;
    const dies: Interceptor = (next) => async (req) => {
      if (req.method.name === "PutChunk" && ++puts > 2) throw new ConnectError("process killed", Code.Canceled);
      return next(req);
    };
    const killed = device(alice, { interceptors: [dies] }).files.upload(file, { chunkSize: 64 * 1024, onPending: (p) => void (pending = p) });
    await expect(killed).rejects.toMatchObject({ name: "CyphrError" });
    expect(pending).toBeDefined();
    const sentAfter: bigint[] = [];
    const record: Interceptor = (next) => async (req) => {
      if (req.method.name === "PutChunk") sentAfter.push((req.message as unknown as { offset: bigint }).offset);
      return next(req);
    };
    const ref = await device(alice, { interceptors: [record] }).files.upload(file, { resume: pending });
    expect(sentAfter).toEqual([2n, 3n, 4n, 5n].map((i) => i * 65_536n));
    expect(Buffer.from(await readAll(device(bob).files.download(ref))).equals(Buffer.from(file))).toBe(true);
  });

  it("refuses a download whose stored ciphertext was altered, and one whose reference names another digest", async () => {
    const { alice, bob } = await chatOfTwo();
    const file = new Uint8Array(randomBytes(3 * 64 * 1024));
    const ref = await device(alice).files.upload(file, { chunkSize: 64 * 1024 });
    // Someone with the database flips one byte of the second segment.
    await server.app.pool.query(sql.unsafe`
      UPDATE attachment_blob_parts SET data = overlay(data PLACING '\\x00'::bytea FROM 100 FOR 1)
      WHERE part = 1 AND blob_key = (SELECT upload_id FROM attachments WHERE attachment_id = ${ref.attachmentId})`);
    const delivered: Uint8Array[] = [];
    const reader = device(bob).files.download(ref).getReader();
    const error = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        delivered.push(value);
      }
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "CyphrError", code: "data_loss", message: expect.stringContaining("does not decrypt at segment 1") });
    // Only the first, intact segment was delivered.
    expect(Buffer.from(concatBytes(...delivered)).equals(Buffer.from(file.subarray(0, 64 * 1024 - 16)))).toBe(true);

    const other: AttachmentRef = { ...ref, sha256: new Uint8Array(32) };
    await expect(readAll(device(bob).files.download(other))).rejects.toMatchObject({
      code: "data_loss",
      message: expect.stringContaining("another attachment"),
    });
  });
});
