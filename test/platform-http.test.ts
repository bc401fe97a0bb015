import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckAvailabilityRequestSchema, CheckAvailabilityResponseSchema, UnavailableReason } from "../src/gen/cyphr/identity/v1/identity_pb.js";
import { grpcAddress, grpcJsClientConstructor, unary } from "./helpers/grpc-js.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { newDevice, registerRequest, uniqueCyphrId } from "./helpers/users.js";

/**
 * What curl and browsers see: plain HTTP/1.1 endpoints and Connect's JSON encoding
 * (fetch speaks HTTP/1.1), next to HTTP/2 protocols on the same port.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const IDENTITY = "/cyphr.identity.v1.IdentityService";

function postJson(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

describe("plain HTTP endpoints", () => {
  it("GET /healthz answers 200 {status: ok}", async () => {
    const res = await fetch(`${server.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("GET /readyz answers 200 while the database is reachable and migrated", async () => {
    const res = await fetch(`${server.baseUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready" });
  });

  it("an unknown path answers 404", async () => {
    const res = await fetch(`${server.baseUrl}/no/such/path`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found" });
  });

  it("an unknown RPC path answers 404", async () => {
    const res = await postJson(`${IDENTITY}/NoSuchMethod`, {});
    expect(res.status).toBe(404);
  });
});

describe("Connect JSON over HTTP/1.1, as curl sends it", () => {
  it("POST CheckAvailability with application/json returns a JSON message", async () => {
    const res = await postJson(`${IDENTITY}/CheckAvailability`, { cyphrId: "nobody_has_this" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ available: true });
  });

  it("POST reports enum values by name in JSON", async () => {
    const res = await postJson(`${IDENTITY}/CheckAvailability`, { cyphrId: "admin" });
    expect(await res.json()).toEqual({ reason: "UNAVAILABLE_REASON_RESERVED" }); // proto3 JSON omits false and zero values
  });

  it("GET works for a NO_SIDE_EFFECTS method with ?connect=v1&encoding=json&message=", async () => {
    const message = encodeURIComponent(JSON.stringify({ cyphrId: "X" }));
    const res = await fetch(`${server.baseUrl}${IDENTITY}/CheckAvailability?connect=v1&encoding=json&message=${message}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ reason: "UNAVAILABLE_REASON_INVALID_FORMAT" });
  });

  it("GET also works without connect=v1, as the README's curl example sends it", async () => {
    const res = await fetch(`${server.baseUrl}${IDENTITY}/GetProfile?encoding=json&message=${encodeURIComponent('{"cyphrId":"no_such_user_x"}')}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe("not_found");
  });

  it("GET is refused for a method with side effects", async () => {
    const message = encodeURIComponent(JSON.stringify({ cyphrId: "someone" }));
    const res = await fetch(`${server.baseUrl}${IDENTITY}/Register?connect=v1&encoding=json&message=${message}`);
    expect(res.status).toBe(405);
  });

  it("Register takes bytes as base64 and returns the session as JSON", async () => {
    const cyphrId = uniqueCyphrId("json");
    const req = registerRequest(newDevice(), cyphrId, "Jason");
    const res = await postJson(`${IDENTITY}/Register`, {
      cyphrId,
      identityPublicKey: base64(req.identityPublicKey),
      mlKemPublicKey: base64(req.mlKemPublicKey),
      deviceFingerprint: base64(req.deviceFingerprint),
      displayName: "Jason",
      signature: base64(req.signature),
      deviceSigningKey: base64(req.deviceSigningKey),
      deviceCertificate: base64(req.deviceCertificate),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { userId: string; session: { accessToken: string; refreshToken: string; accessTokenExpiresAt: string } };
    expect(body.userId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(body.session.accessToken.split(".")).toHaveLength(3);
    expect(body.session.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Date(body.session.accessTokenExpiresAt).getTime()).toBeGreaterThan(Date.now());

    const profile = await fetch(`${server.baseUrl}${IDENTITY}/GetProfile?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ cyphrId }))}`);
    expect(((await profile.json()) as { profile: { displayName: string } }).profile.displayName).toBe("Jason");
  });

  it("a malformed field fails with HTTP 400 and JSON {code: invalid_argument, message}", async () => {
    const req = registerRequest(newDevice(), uniqueCyphrId("short"));
    const res = await postJson(`${IDENTITY}/Register`, {
      cyphrId: req.cyphrId,
      identityPublicKey: base64(new Uint8Array([1, 2, 3])),
      mlKemPublicKey: base64(req.mlKemPublicKey),
      deviceFingerprint: base64(req.deviceFingerprint),
      signature: base64(req.signature),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ code: "invalid_argument", message: "identity_public_key must be 32 bytes, got 3" });
  });

  it("an authenticated method without a token fails with HTTP 401 code unauthenticated", async () => {
    const res = await postJson(`${IDENTITY}/SearchUsers`, { prefix: "ab" });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("unauthenticated");
    expect(body.message).toContain("authorization");
  });

  it("a token that is not a JWT fails with HTTP 401 too", async () => {
    const res = await postJson(`${IDENTITY}/SearchUsers`, { prefix: "ab" }, { authorization: "Bearer not-a-token" });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
  });

  it("an unknown NOT_FOUND profile fails with HTTP 404 code not_found", async () => {
    const res = await postJson(`${IDENTITY}/GetProfile`, { cyphrId: uniqueCyphrId("ghost") });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe("not_found");
  });
});

/** A gRPC-Web message frame: flags byte, big-endian length, payload. */
function frame(flags: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(flags, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

function parseFrames(body: Buffer): { flags: number; payload: Buffer }[] {
  const frames = [];
  for (let offset = 0; offset < body.length; ) {
    const length = body.readUInt32BE(offset + 1);
    frames.push({ flags: body.readUInt8(offset), payload: body.subarray(offset + 5, offset + 5 + length) });
    offset += 5 + length;
  }
  return frames;
}

/** One raw HTTP/2 request with prior knowledge (no upgrade, no ALPN). */
function h2Request(headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(server.baseUrl);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ...headers });
    const chunks: Buffer[] = [];
    let responseHeaders: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", reject);
    stream.on("end", () => {
      session.close();
      resolve({ headers: responseHeaders, body: Buffer.concat(chunks) });
    });
    stream.end(body);
  });
}

describe("one port for every protocol", () => {
  it("answers gRPC-Web over raw HTTP/2 prior knowledge", async () => {
    const request = toBinary(CheckAvailabilityRequestSchema, create(CheckAvailabilityRequestSchema, { cyphrId: "admin" }));
    const res = await h2Request(
      { ":path": `${IDENTITY}/CheckAvailability`, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      frame(0, request),
    );
    expect(res.headers[":status"]).toBe(200);
    expect(res.headers["content-type"]).toBe("application/grpc-web+proto");
    const [message, trailer] = parseFrames(res.body);
    expect(message!.flags).toBe(0);
    const response = fromBinary(CheckAvailabilityResponseSchema, message!.payload);
    expect(response.reason).toBe(UnavailableReason.RESERVED);
    expect(trailer!.flags & 0x80).toBe(0x80);
    expect(trailer!.payload.toString("utf8")).toMatch(/grpc-status: ?0\r\n/);
  });

  it("serves HTTP/1.1 Connect JSON, HTTP/2 gRPC-Web and HTTP/2 gRPC on the same port", async () => {
    const port = new URL(server.baseUrl).port;

    const connect = await postJson(`${IDENTITY}/CheckAvailability`, { cyphrId: "root" });
    expect(await connect.json()).toEqual({ reason: "UNAVAILABLE_REASON_RESERVED" });

    const request = toBinary(CheckAvailabilityRequestSchema, create(CheckAvailabilityRequestSchema, { cyphrId: "root" }));
    const grpcWeb = await h2Request({ ":path": `${IDENTITY}/CheckAvailability`, "content-type": "application/grpc-web+proto" }, frame(0, request));
    expect(fromBinary(CheckAvailabilityResponseSchema, parseFrames(grpcWeb.body)[0]!.payload).reason).toBe(UnavailableReason.RESERVED);

    const Identity = grpcJsClientConstructor("cyphr/identity/v1/identity.proto", "cyphr.identity.v1.IdentityService");
    const client = new Identity(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      expect(grpcAddress(server.baseUrl)).toBe(`127.0.0.1:${port}`);
      expect(await unary(client, "CheckAvailability", { cyphr_id: "root" })).toEqual({
        available: false,
        reason: "UNAVAILABLE_REASON_RESERVED",
      });
    } finally {
      client.close();
    }
  });
});
