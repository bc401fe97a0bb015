import fs from "node:fs/promises";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { Direction, ListMessagesRequestSchema, ListMessagesResponseSchema, MessagingService } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { IDENTITY_PUBLIC_METHODS } from "../src/identity/service.js";
import { authenticate as authenticateCaller } from "../src/identity/sessions.js";
import { PUBLIC_SERVICES, routes } from "../src/routes.js";
import { createCallHandler } from "../src/rpc/call-handler.js";
import { authenticate, observe } from "../src/rpc/interceptors.js";
import { transportContextValues } from "../src/rpc/stream-reset.js";
import { unaryCallClaim } from "../src/rpc/unary/claim.js";
import { RequestBudget } from "../src/transport/request-budget.js";
import { clientFor, PROTOCOLS } from "./helpers/clients.js";
import { createTestDatabase } from "./helpers/database.js";
import { grpcAddress, grpcJsClientConstructor, unary } from "./helpers/grpc-js.js";
import type { LogLine } from "./helpers/logged-server.js";
import { fullHistory, type Participant, participant, randomPayload, sendTo } from "./helpers/messaging.js";
import { envelope, grpcStatus, h2Request } from "./helpers/raw-rpc.js";
import { expectRpcError } from "./helpers/rpc-errors.js";

/**
 * The unary fast path on its own: an HTTP/2 server whose only stream listener is the unary
 * claim (no Node compatibility layer, no request handler: a stream it does not claim is
 * answered 404), serving the application's real services, interceptors and database, so
 * every answer below came from src/rpc/unary/.
 */

let app: App;
let server: http2.Http2Server;
let baseUrl: string;
let alice: Participant;
let bob: Participant;
const logs: LogLine[] = [];
const shutdown = new AbortController();
const sessions = new Set<http2.ServerHttp2Session>();

beforeAll(async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-data-"));
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", CYPHR_DATA_DIR: dataDir, LOG_LEVEL: "info" });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const log = pino({ level: "info" }, sink);
  app = await createApp(config, log, await createTestDatabase());
  const publicMethods = new Set([...PUBLIC_SERVICES, ...IDENTITY_PUBLIC_METHODS]);
  const interceptors = [observe(log), authenticate(publicMethods, (token) => authenticateCaller(app.identity, token))];
  const requestBudget = new RequestBudget({ perConnectionBytes: config.requestBufferBytesPerConnection, totalBytes: config.requestBufferBytesTotal });
  const handler = createCallHandler({
    routes: routes(app),
    log,
    interceptors,
    shutdownSignal: shutdown.signal,
    readMaxBytes: 4 * 1024 * 1024,
    requestBudget,
    contextValues: transportContextValues,
    fallback: () => undefined,
  });
  const claim = unaryCallClaim(handler.unaryMethods, { interceptors, log, shutdownSignal: shutdown.signal, readMaxBytes: 4 * 1024 * 1024, requestBudget });
  server = http2.createServer();
  server.on("session", (session) => sessions.add(session.once("close", () => sessions.delete(session))));
  server.on("stream", (stream, headers) => {
    if (!claim(stream, headers)) stream.respond({ ":status": 404 }, { endStream: true });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  alice = await participant(baseUrl, "grpc", "alice");
  bob = await participant(baseUrl, "connect", "bob");
});
afterAll(async () => {
  shutdown.abort();
  for (const session of sessions) session.destroy();
  await new Promise((resolve) => server?.close(resolve));
  await app?.close();
});

const SEND_MESSAGE = "cyphr.messaging.v1.MessagingService/SendMessage";
const rpcLines = (method: string) => logs.filter((l) => l.msg === "rpc" && l.method === method);
async function linesAfter(method: string, before: number, count: number): Promise<LogLine[]> {
  for (let i = 0; i < 250 && rpcLines(method).length < before + count; i++) await new Promise((r) => setTimeout(r, 20));
  return rpcLines(method).slice(before);
}

describe("the unary fast path serves every binary protocol", () => {
  it.each(PROTOCOLS)("SendMessage over %s (HTTP/2, binary) is accepted, with its one log line OK", async (protocol) => {
    const before = rpcLines(SEND_MESSAGE).length;
    const messaging = clientFor(MessagingService, protocol, baseUrl, { token: alice.accessToken });
    const sent = await messaging.sendMessage({
      destination: { case: "recipientCyphrId", value: bob.cyphrId },
      clientMessageId: crypto.randomUUID(),
      payload: randomPayload(),
      messageType: 1,
    });
    expect(sent.chatId).toMatch(/^[0-9a-f-]{36}$/);
    const lines = await linesAfter(SEND_MESSAGE, before, 1);
    expect(lines).toEqual([expect.objectContaining({ method: SEND_MESSAGE, code: "OK", durationMs: expect.any(Number) })]);
    expect(JSON.stringify(lines)).not.toContain(alice.accessToken);
  });

  it("a message sent through it is in the recipient's history, payload intact", async () => {
    const payload = randomPayload(300);
    const sent = await sendTo(alice, bob, payload);
    const found = (await fullHistory(bob, sent.chatId)).find((m) => m.messageId === sent.messageId);
    expect(Buffer.from(found!.payload!.ciphertext)).toEqual(payload.ciphertext);
  });

  it("an answer of 1 KiB or more to a client that accepts gzip is gzip-compressed, as connect-es compresses it", async () => {
    const sent = await sendTo(alice, bob, randomPayload(4096));
    const request = create(ListMessagesRequestSchema, { chatId: sent.chatId, limit: 50, direction: Direction.FORWARD });
    const answer = await h2Request(baseUrl, {
      path: "/cyphr.messaging.v1.MessagingService/ListMessages",
      headers: { "content-type": "application/grpc", te: "trailers", "grpc-accept-encoding": "gzip", authorization: `Bearer ${bob.accessToken}` },
      body: [envelope(toBinary(ListMessagesRequestSchema, request))],
    });
    expect(answer.headers["grpc-encoding"]).toBe("gzip");
    expect(answer.body[0]).toBe(1);
    const listed = fromBinary(ListMessagesResponseSchema, gunzipSync(answer.body.subarray(5)));
    expect(listed.messages.map((m) => m.messageId)).toContain(sent.messageId);
    expect(grpcStatus(answer)?.code).toBe(0);
  });

  it("@grpc/grpc-js (descriptors from the .proto at run time) is answered", async () => {
    const Identity = grpcJsClientConstructor("cyphr/identity/v1/identity.proto", "cyphr.identity.v1.IdentityService");
    const client = new Identity(grpcAddress(baseUrl), grpc.credentials.createInsecure());
    try {
      const answer = await unary<{ available: boolean }>(client, "CheckAvailability", { cyphr_id: "nobody_has_this" });
      expect(answer.available).toBe(true);
      const metadata = new grpc.Metadata();
      metadata.set("authorization", "Bearer e30.e30.c2ln");
      const error = await unary(client, "UpdateProfile", {}, metadata).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
  });
});

describe("its failures carry the status connect-es gives", () => {
  it.each(PROTOCOLS)("a token that does not verify is UNAUTHENTICATED over %s", async (protocol) => {
    const messaging = clientFor(MessagingService, protocol, baseUrl, { token: "e30.e30.c2ln" });
    await expectRpcError(messaging.listChats({}), Code.Unauthenticated, "invalid or expired access token");
  });

  it.each(PROTOCOLS)("a request that does not decode is INVALID_ARGUMENT naming its type over %s", async (protocol) => {
    const contentType = { grpc: "application/grpc", "grpc-web": "application/grpc-web+proto", connect: "application/proto" }[protocol];
    const bytes = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const answer = await h2Request(baseUrl, {
      path: `/${SEND_MESSAGE}`,
      headers: { "content-type": contentType, te: "trailers", authorization: `Bearer ${alice.accessToken}` },
      body: [protocol === "connect" ? bytes : envelope(bytes)],
    });
    const expected = "the request is not a valid cyphr.messaging.v1.SendMessageRequest: premature EOF";
    if (protocol === "connect") expect(JSON.parse(answer.body.toString())).toEqual({ code: "invalid_argument", message: expected });
    else expect(grpcStatus(answer)).toEqual({ code: Code.InvalidArgument, message: expected });
  });

  it("a call whose deadline has passed is DEADLINE_EXCEEDED and logged so", async () => {
    const before = rpcLines(SEND_MESSAGE).length;
    const answer = await h2Request(baseUrl, {
      path: `/${SEND_MESSAGE}`,
      headers: { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "0n" },
      body: [envelope(new Uint8Array(0))],
    });
    expect(grpcStatus(answer)?.code).toBe(Code.DeadlineExceeded);
    expect((await linesAfter(SEND_MESSAGE, before, 1)).map((l) => l.code)).toEqual(["DeadlineExceeded"]);
  });

  it("a body announced over 4 MiB is RESOURCE_EXHAUSTED without being read", async () => {
    const answer = await h2Request(baseUrl, {
      path: "/cyphr.identity.v1.IdentityService/CheckAvailability",
      headers: { "content-type": "application/grpc", te: "trailers", "content-length": String(1024 ** 3) },
      body: [Buffer.alloc(1024)],
      keepOpen: true,
    });
    expect(grpcStatus(answer)).toEqual({ code: Code.ResourceExhausted, message: "request body of 1073741824 bytes is over the limit of 4194304 bytes" });
  });

  it("a body that grows past 4 MiB without a Content-Length is RESOURCE_EXHAUSTED, and the rest is not kept", async () => {
    const chunk = Buffer.alloc(256 * 1024);
    const answer = await h2Request(baseUrl, {
      path: "/cyphr.identity.v1.IdentityService/CheckAvailability",
      headers: { "content-type": "application/grpc", te: "trailers" },
      body: [envelope(Buffer.alloc(8 * 1024 * 1024)).subarray(0, 5), ...Array.from({ length: 20 }, () => chunk)],
    });
    expect(grpcStatus(answer)?.code).toBe(Code.ResourceExhausted);
    expect(grpcStatus(answer)?.message).toMatch(/larger than|over the limit/);
  });

  it("JSON, compressed and unknown-method calls are not claimed (they stay with connect-es)", async () => {
    const notClaimed: Record<string, string>[] = [
      { "content-type": "application/json" },
      { "content-type": "application/grpc+json" },
      { "content-type": "application/grpc", "grpc-encoding": "gzip" },
      { "content-type": "application/grpc-web-text" },
    ];
    for (const headers of notClaimed) {
      const answer = await h2Request(baseUrl, { path: "/cyphr.identity.v1.IdentityService/CheckAvailability", headers });
      expect(answer.httpStatus).toBe(404);
    }
    const unknown = await h2Request(baseUrl, { path: "/cyphr.identity.v1.IdentityService/NoSuchMethod", headers: { "content-type": "application/grpc" } });
    expect(unknown.httpStatus).toBe(404);
  });
});
