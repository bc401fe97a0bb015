import { Writable } from "node:stream";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type App, createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { ConnectRequestSchema, RealtimeService, SubscribeRequestSchema } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { type CyphrServer, createServer } from "../src/server.js";
import { createTestDatabase } from "./helpers/database.js";
import { type Participant, participants, sendTo } from "./helpers/messaging.js";
import { enveloped, type RawCall, rawCall } from "./helpers/raw-h2.js";
import { eventually, sleep } from "./helpers/realtime.js";

/**
 * Connect and Subscribe over HTTP/2 are served on Node's core stream API (src/realtime/h2/),
 * not through connect-es. The wire must not tell: every protocol frames its status its own
 * way, bad input gets a status naming the problem, deadlines are honoured (and clamped where
 * Node's timers end), each call leaves one log line with the code its client got, and the
 * forms the fast path does not speak still work through connect-es.
 */

const SUBSCRIBE = "/cyphr.realtime.v1.RealtimeService/Subscribe";
const CONNECT = "/cyphr.realtime.v1.RealtimeService/Connect";
const HEARTBEAT_MS = 300;

let app: App;
let server: CyphrServer;
let baseUrl: string;
const logs: { method?: string; code?: string; msg?: string }[] = [];
let bob: Participant;
let alice: Participant;

beforeAll(async () => {
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    CYPHR_DATA_DIR: `/tmp/cyphr-h2-${process.pid}`,
    HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
    SHUTDOWN_GRACE_MS: "1000",
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  app = await createApp(config, pino({ level: "info" }, sink), await createTestDatabase());
  server = createServer(app);
  baseUrl = `http://127.0.0.1:${await server.listen(0, "127.0.0.1")}`;
  [alice, bob] = await participants(baseUrl, 2);
});
afterAll(async () => {
  await server.shutdown(1000);
  await app.close();
});

const subscribeBody = (resumeCursor?: bigint) => enveloped(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { resumeCursor })));
const helloBody = () =>
  enveloped(toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { frame: { frame: { case: "hello", value: { resumeCursor: 0n } } } })));
const auth = (user: Participant) => ({ authorization: `Bearer ${user.accessToken}` });

function subscribeOver(protocol: "grpc" | "grpc-web" | "connect", headers: Record<string, string> = {}, body = subscribeBody(0n)): RawCall {
  const contentType = { grpc: "application/grpc", "grpc-web": "application/grpc-web+proto", connect: "application/connect+proto" }[protocol];
  const call = rawCall(baseUrl, SUBSCRIBE, { "content-type": contentType, ...headers });
  call.end(body);
  return call;
}

/** The status a call ended with, read the way its protocol carries it. */
async function statusOf(call: RawCall, protocol: "grpc" | "grpc-web" | "connect"): Promise<{ code: string; message: string }> {
  const headers = await call.headers;
  const { trailers } = await call.closed;
  const names = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
  ];
  if (protocol === "grpc") {
    const fields = trailers["grpc-status"] !== undefined ? trailers : headers;
    return { code: names[Number(fields["grpc-status"])]!, message: decodeURIComponent(String(fields["grpc-message"] ?? "")) };
  }
  const last = call.envelopes.at(-1)!;
  if (protocol === "grpc-web") {
    expect(last.flags).toBe(0x80);
    const text = last.data.toString("utf8");
    const code = Number(/grpc-status: (\d+)/.exec(text)?.[1]);
    return { code: names[code]!, message: decodeURIComponent(/grpc-message: (.*)\r\n/.exec(text)?.[1] ?? "") };
  }
  expect(last.flags).toBe(0x02);
  const end = JSON.parse(last.data.toString("utf8")) as { error?: { code: string; message: string } };
  return { code: (end.error?.code ?? "ok").toUpperCase().replace("CANCELED", "CANCELLED"), message: end.error?.message ?? "" };
}

describe("statuses in each protocol's own framing", () => {
  for (const protocol of ["grpc", "grpc-web", "connect"] as const) {
    it(`${protocol}: a Subscribe without a token ends with UNAUTHENTICATED; with one it streams caught_up`, async () => {
      const refused = subscribeOver(protocol);
      expect(await statusOf(refused, protocol)).toEqual({ code: "UNAUTHENTICATED", message: expect.stringContaining("missing authorization") });

      const call = subscribeOver(protocol, auth(bob));
      await eventually(() => call.frames().some((f) => f.event.case === "caughtUp"), 5000, "caught_up");
      const sent = await sendTo(alice, bob);
      await eventually(() => call.frames().some((f) => f.event.case === "messageNew" && f.event.value.messageId === sent.messageId), 5000, "the message");
      call.cancel();
    });
  }
});

describe("bad input names the problem", () => {
  it("a Subscribe body that does not decode is INVALID_ARGUMENT naming the message type", async () => {
    const call = subscribeOver("grpc", auth(bob), enveloped(Buffer.from([0x08, 0xff, 0xff])));
    expect(await statusOf(call, "grpc")).toEqual({ code: "INVALID_ARGUMENT", message: expect.stringContaining("cyphr.realtime.v1.SubscribeRequest") });
  });

  it("a Subscribe with no request message, or two, is INVALID_ARGUMENT", async () => {
    expect(await statusOf(subscribeOver("grpc", auth(bob), Buffer.alloc(0)), "grpc")).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("no message"),
    });
    const two = Buffer.concat([subscribeBody(0n), subscribeBody(0n)]);
    expect(await statusOf(subscribeOver("grpc", auth(bob), two), "grpc")).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("more than one"),
    });
  });

  it("a request message over the read limit is RESOURCE_EXHAUSTED from its length prefix, before its bytes arrive", async () => {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(64 * 1024 * 1024, 1);
    const call = rawCall(baseUrl, SUBSCRIBE, { "content-type": "application/grpc", ...auth(bob) });
    call.write(prefix);
    expect(await statusOf(call, "grpc")).toEqual({ code: "RESOURCE_EXHAUSTED", message: expect.stringContaining("exceeds the limit") });
  });

  it("a Connect frame with invalid UTF-8 after the hello ends the stream with INVALID_ARGUMENT", async () => {
    const call = rawCall(baseUrl, CONNECT, { "content-type": "application/grpc", ...auth(bob) });
    call.write(helloBody());
    await eventually(() => call.frames().some((f) => f.event.case === "caughtUp"), 5000, "caught_up");
    // ConnectRequest{frame: ClientFrame{request_id: "\xff"}}
    call.write(enveloped(Buffer.from([0x0a, 0x03, 0x0a, 0x01, 0xff])));
    expect(await statusOf(call, "grpc")).toEqual({ code: "INVALID_ARGUMENT", message: expect.stringContaining("does not decode") });
  });

  it("a compressed message flag is refused with INVALID_ARGUMENT (the request named no encoding)", async () => {
    const call = subscribeOver("grpc", auth(bob), enveloped(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, {})), 1));
    expect(await statusOf(call, "grpc")).toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("deadlines", () => {
  it("a deadline beyond Node's longest timer (grpc-timeout 597H, connect-timeout-ms 2^31) is clamped: the stream stays open", async () => {
    const grpc = subscribeOver("grpc", { ...auth(bob), "grpc-timeout": "597H" });
    const connect = subscribeOver("connect", { ...auth(bob), "connect-timeout-ms": "2147483648" });
    await sleep(HEARTBEAT_MS * 2);
    expect([grpc.isClosed(), connect.isClosed()]).toEqual([false, false]);
    expect(grpc.frames().some((f) => f.event.case === "caughtUp")).toBe(true);
    grpc.cancel();
    connect.cancel();
  });

  it("a stream whose own deadline expires ends with DEADLINE_EXCEEDED, in every protocol", async () => {
    expect(await statusOf(subscribeOver("grpc", { ...auth(bob), "grpc-timeout": "200m" }), "grpc")).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect(await statusOf(subscribeOver("grpc-web", { ...auth(bob), "grpc-timeout": "200m" }), "grpc-web")).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect(await statusOf(subscribeOver("connect", { ...auth(bob), "connect-timeout-ms": "200" }), "connect")).toMatchObject({ code: "DEADLINE_EXCEEDED" });
  });

  it("an unreadable timeout header is INVALID_ARGUMENT", async () => {
    expect(await statusOf(subscribeOver("grpc", { ...auth(bob), "grpc-timeout": "soon" }), "grpc")).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("grpc-timeout"),
    });
  });
});

describe("the call log", () => {
  it("each call leaves one line with the code its client got: CANCELED for a client that left, DEADLINE_EXCEEDED, UNAUTHENTICATED", async () => {
    const before = logs.length;
    const left = subscribeOver("grpc", auth(bob));
    await eventually(() => left.frames().some((f) => f.event.case === "caughtUp"), 5000, "caught_up");
    left.cancel();
    await left.closed;
    await statusOf(subscribeOver("connect", { ...auth(bob), "connect-timeout-ms": "100" }), "connect");
    await statusOf(subscribeOver("grpc-web"), "grpc-web");
    await eventually(() => logs.slice(before).filter((l) => l.msg === "rpc").length >= 3, 5000, "three log lines");
    const lines = logs.slice(before).filter((l) => l.msg === "rpc");
    expect(lines.map((l) => [l.method, l.code])).toEqual([
      ["cyphr.realtime.v1.RealtimeService/Subscribe", "Canceled"],
      ["cyphr.realtime.v1.RealtimeService/Subscribe", "DeadlineExceeded"],
      ["cyphr.realtime.v1.RealtimeService/Subscribe", "Unauthenticated"],
    ]);
  });
});

it("forms the fast path does not speak (Connect JSON, gzip-compressed gRPC) are still served, by connect-es", async () => {
  for (const transport of [
    createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false }),
    createConnectTransport({ baseUrl, httpVersion: "2", sendCompression: undefined, useBinaryFormat: true, jsonOptions: {} }),
  ]) {
    const client = createClient(RealtimeService, transport);
    const controller = new AbortController();
    const stream = client.subscribe({ resumeCursor: 0n }, { headers: auth(bob), signal: controller.signal });
    for await (const res of stream) {
      if (res.frame?.event.case === "caughtUp") break;
    }
    controller.abort();
  }
  const gzipped = rawCall(baseUrl, SUBSCRIBE, { "content-type": "application/grpc", "grpc-encoding": "gzip", ...auth(bob) });
  const { gzipSync } = await import("node:zlib");
  gzipped.end(enveloped(gzipSync(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { resumeCursor: 0n }))), 1));
  await eventually(() => gzipped.envelopes.length > 0, 5000, "a frame from connect-es");
  gzipped.cancel();
});
