import { randomUUID } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdentityService } from "../src/gen/cyphr/identity/v1/identity_pb.js";
import { Health } from "../src/gen/grpc/health/v1/health_pb.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { serverSigningKey, signAccessToken } from "./helpers/jwt.js";
import { type LoggedServer, startLoggedServer } from "./helpers/logged-server.js";
import { type Participant, participant } from "./helpers/messaging.js";
import { connectError, envelope, grpcStatus, h1Request, h2Request } from "./helpers/raw-rpc.js";
import { expectRpcError } from "./helpers/rpc-errors.js";

/**
 * Calls at the edge: deadlines past what a timer holds, bodies announced larger than the
 * limit, statuses that quote huge input, tokens with malformed ids, and the one log line
 * every call leaves, with the code its client got.
 */

let server: LoggedServer;
let alice: Participant;
let bob: Participant;
beforeAll(async () => {
  server = await startLoggedServer();
  alice = await participant(server.baseUrl, "grpc", "alice");
  bob = await participant(server.baseUrl, "connect", "bob");
});
afterAll(() => server.close());

const SUBSCRIBE = "cyphr.realtime.v1.RealtimeService/Subscribe";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a raw Subscribe stream with `headers`; resolves when it ends (or `afterMs`, cancelling it, if it is still open). */
function subscribeRaw(headers: Record<string, string>, afterMs: number) {
  return h2Request(server.baseUrl, {
    path: `/${SUBSCRIBE}`,
    headers: { authorization: `Bearer ${alice.accessToken}`, ...headers },
    body: [envelope(new Uint8Array(0))],
    cancelAfterMs: afterMs,
  });
}

describe("deadlines", () => {
  it.each([
    ["grpc-timeout: 597H", { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "597H" }],
    ["grpc-timeout: 99999999H", { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "99999999H" }],
    ["connect-timeout-ms: 2147483648", { "content-type": "application/connect+proto", "connect-timeout-ms": "2147483648" }],
  ])("a stream asking for %s (past 2^31 ms) stays open", async (_name, headers) => {
    const answer = await subscribeRaw(headers, 1000);
    // Still open when the client gave up waiting: no status was ever sent.
    expect(answer.canceledByClient).toBe(true);
    expect(grpcStatus(answer)).toBeUndefined();
    expect(connectError(answer)).toBeUndefined();
  });

  it("a unary call with a deadline past 2^31 ms is answered", async () => {
    const answer = await h2Request(server.baseUrl, {
      path: "/cyphr.identity.v1.IdentityService/CheckAvailability",
      headers: { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "597H" },
      body: [envelope(new Uint8Array(0))],
    });
    expect(grpcStatus(answer)?.code).toBe(0);
  });

  it("a stream whose own deadline passes ends with DEADLINE_EXCEEDED (gRPC and Connect), and is logged so", async () => {
    const before = server.rpcLines(SUBSCRIBE).length;
    const grpc = await subscribeRaw({ "content-type": "application/grpc", te: "trailers", "grpc-timeout": "300m" }, 10_000);
    expect(grpcStatus(grpc)?.code).toBe(Code.DeadlineExceeded);
    const connect = await subscribeRaw({ "content-type": "application/connect+proto", "connect-timeout-ms": "300" }, 10_000);
    expect(connectError(connect)?.code).toBe("deadline_exceeded");
    const lines = await server.waitForRpcLines(SUBSCRIBE, before + 2);
    expect(lines.slice(before).map((l) => l.code)).toEqual(["DeadlineExceeded", "DeadlineExceeded"]);
  });
});

describe("a body announced larger than the request limit (4 MiB)", () => {
  it("over HTTP/1.1 is refused on its Content-Length, answered at once, and the connection closed without reading it", async () => {
    const socket = net.connect(server.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    let answer = "";
    let closed = false;
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("close", () => (closed = true));
    socket.on("error", () => {});
    socket.write(
      "POST /cyphr.identity.v1.IdentityService/CheckAvailability HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\n" +
        `Content-Length: ${1024 ** 3}\r\n\r\n`,
    );
    // Keep uploading until the server closes the connection; a server that reads the body takes all 1 GiB.
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    while (!closed && sent < 256 * 1024 * 1024) {
      if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once("drain", r)), sleep(200)]);
      sent += chunk.length;
      if (answer.includes("resource_exhausted")) await sleep(5);
    }
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 429/);
    expect(answer).toMatch(/connection: close/i);
    expect(answer).toContain("resource_exhausted");
    expect(answer).toContain("over the limit of 4194304 bytes");
    expect(closed).toBe(true);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it("over HTTP/2 gRPC is answered RESOURCE_EXHAUSTED without reading it", async () => {
    const answer = await h2Request(server.baseUrl, {
      path: "/cyphr.identity.v1.IdentityService/CheckAvailability",
      headers: { "content-type": "application/grpc", te: "trailers", "content-length": String(1024 ** 3) },
      body: [Buffer.alloc(1024)],
      keepOpen: true,
    });
    expect(grpcStatus(answer)).toEqual({ code: Code.ResourceExhausted, message: expect.stringContaining("over the limit") });
  });
});

describe("a status that would quote huge caller input", () => {
  const huge = "x".repeat(100_000);

  it.each(["grpc", "connect"] as const)("Health/Check over %s with a 100 kB service name answers NOT_FOUND quoting only its start", async (protocol) => {
    const health = clientFor(Health, protocol, server.baseUrl);
    const error = await expectRpcError(health.check({ service: huge }), Code.NotFound, "unknown service");
    expect(error.rawMessage).toContain("(100000 characters)");
    expect(error.rawMessage.length).toBeLessThan(300);
  });

  it("UpdateProfile with a 100 kB update path answers INVALID_ARGUMENT quoting only its start", async () => {
    const identity = clientFor(IdentityService, "grpc", server.baseUrl, { token: alice.accessToken });
    const error = await expectRpcError(identity.updateProfile({ updatePaths: [huge] }), Code.InvalidArgument, "update_paths: unknown field");
    expect(error.rawMessage).toContain("(100000 characters)");
    expect(error.rawMessage.length).toBeLessThan(300);
  });

  it("SendMessage to a 100 kB recipient_cyphr_id answers with a short message", async () => {
    const call = alice.messaging.sendMessage({
      destination: { case: "recipientCyphrId", value: huge },
      clientMessageId: randomUUID(),
      payload: { ciphertext: new Uint8Array(8), nonce: new Uint8Array(12), tag: new Uint8Array(16) },
      messageType: 1,
    });
    const error = await call.then(
      () => undefined,
      (e: unknown) => e as { code: Code; rawMessage: string },
    );
    expect(error).toBeDefined();
    expect([Code.NotFound, Code.InvalidArgument]).toContain(error!.code);
    expect(error!.rawMessage.length).toBeLessThan(300);
  });
});

describe("a validly signed token whose ids are not UUIDs", () => {
  it.each([
    ["sub", { sub: "not-a-uuid-at-all" }],
    ["sid", { sid: "also-not-a-uuid" }],
  ])("(%s) answers UNAUTHENTICATED and logs nothing about it", async (_claim, override) => {
    const key = await serverSigningKey(server.dataDir);
    const token = await signAccessToken(key.privateKey, key.kid, { sub: bob.userId, cyphr_id: bob.cyphrId, sid: bob.sessionId, ...override });
    const before = server.logText().length;
    const search = identityClient("grpc", server.baseUrl, { token }).searchUsers({ prefix: "bo" });
    await expectRpcError(search, Code.Unauthenticated, "invalid or expired access token");
    await server.waitForRpcLines("cyphr.identity.v1.IdentityService/SearchUsers", 1);
    const logged = server.logText().slice(before);
    expect(logged).not.toContain(Object.values(override)[0]);
    expect(logged).not.toMatch(/"level":50/);
  });
});

describe("one log line per call, with the code the client got", () => {
  it("a Subscribe stream the client cancels is logged once as Canceled, with no error and no stack trace", async () => {
    const before = server.rpcLines(SUBSCRIBE).length;
    const textBefore = server.logText().length;
    await subscribeRaw({ "content-type": "application/grpc", te: "trailers" }, 300);
    await subscribeRaw({ "content-type": "application/connect+proto" }, 300);
    const lines = await server.waitForRpcLines(SUBSCRIBE, before + 2);
    await sleep(200);
    expect(
      server
        .rpcLines(SUBSCRIBE)
        .slice(before)
        .map((l) => l.code),
    ).toEqual(["Canceled", "Canceled"]);
    const logged = server.logText().slice(textBefore);
    expect(logged).not.toMatch(/"level":50|Premature close|Unavailable/);
    expect(lines).toHaveLength(before + 2);
  });

  it("a call refused before any handler (an unsupported content type) is logged too, with its HTTP status", async () => {
    const method = "cyphr.identity.v1.IdentityService/CheckAvailability";
    const before = server.rpcLines(method).length;
    const res = await fetch(`${server.baseUrl}/${method}`, { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" });
    expect(res.status).toBe(415);
    const lines = await server.waitForRpcLines(method, before + 1);
    expect(lines.at(-1)).toMatchObject({ method, httpStatus: 415 });
  });

  it("a call to a method the server does not have answers UNIMPLEMENTED in its protocol and is logged, without its path", async () => {
    const before = server.rpcLines("(unknown)").length;
    const grpc = await h2Request(server.baseUrl, {
      path: "/cyphr.identity.v1.IdentityService/NoSuchMethodAnywhere",
      headers: { "content-type": "application/grpc", te: "trailers" },
      body: [envelope(new Uint8Array(0))],
    });
    expect(grpcStatus(grpc)?.code).toBe(Code.Unimplemented);
    const res = await fetch(`${server.baseUrl}/cyphr.identity.v1.IdentityService/NoSuchMethodAnywhere`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe("unimplemented");
    const lines = await server.waitForRpcLines("(unknown)", before + 2);
    expect(lines.slice(before).map((l) => l.code)).toEqual(["Unimplemented", "Unimplemented"]);
    expect(server.logText()).not.toContain("NoSuchMethodAnywhere");
  });

  it("a Connect stream over HTTP/1.1 that the client abandons is logged once as Canceled", async () => {
    const before = server.rpcLines(SUBSCRIBE).length;
    const textBefore = server.logText().length;
    await new Promise<void>((resolve) => {
      const req = http.request({
        host: "127.0.0.1",
        port: server.port,
        method: "POST",
        path: `/${SUBSCRIBE}`,
        headers: { "content-type": "application/connect+proto", authorization: `Bearer ${alice.accessToken}` },
      });
      req.on("error", () => resolve());
      req.on("response", (res) => {
        res.on("data", () => {});
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 300);
      });
      req.end(envelope(new Uint8Array(0)));
    });
    const lines = await server.waitForRpcLines(SUBSCRIBE, before + 1);
    expect(lines.slice(before).map((l) => l.code)).toEqual(["Canceled"]);
    expect(server.logText().slice(textBefore)).not.toMatch(/"level":50|Premature close/);
  });

  it("a call whose deadline header does not parse answers INVALID_ARGUMENT and is logged", async () => {
    const method = "cyphr.identity.v1.IdentityService/CheckAvailability";
    const before = server.rpcLines(method).length;
    const answer = await h2Request(server.baseUrl, {
      path: `/${method}`,
      headers: { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "soon" },
      body: [envelope(new Uint8Array(0))],
    });
    expect(grpcStatus(answer)?.code).toBe(Code.InvalidArgument);
    // The same over gRPC-Web on HTTP/1.1, where the status travels in a trailer frame of the body.
    const web = await h1Request(server.port, {
      path: `/${method}`,
      headers: { "content-type": "application/grpc-web+proto", "grpc-timeout": "soon" },
      body: envelope(new Uint8Array(0)),
    });
    expect(grpcStatus(web)?.code).toBe(Code.InvalidArgument);
    const lines = await server.waitForRpcLines(method, before + 2);
    expect(lines.slice(before).map((l) => l.code)).toEqual(["InvalidArgument", "InvalidArgument"]);
  });

  it("calls that succeed and fail in handlers are logged once each", async () => {
    const method = "cyphr.identity.v1.IdentityService/CheckAvailability";
    const before = server.rpcLines(method).length;
    await identityClient("grpc-web", server.baseUrl).checkAvailability({ cyphrId: "someone_new" });
    await identityClient("connect", server.baseUrl, { httpVersion: "1.1" }).checkAvailability({ cyphrId: "someone_else" });
    const lines = await server.waitForRpcLines(method, before + 2);
    await sleep(100);
    expect(
      server
        .rpcLines(method)
        .slice(before)
        .map((l) => l.code),
    ).toEqual(["OK", "OK"]);
    expect(lines).toHaveLength(before + 2);
  });
});
