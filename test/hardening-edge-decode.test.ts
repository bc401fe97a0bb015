import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectRequestSchema } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { identityClient } from "./helpers/clients.js";
import { type LoggedServer, startLoggedServer } from "./helpers/logged-server.js";
import { connectError, envelope, grpcStatus, h1Request, h2Request } from "./helpers/raw-rpc.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

/**
 * A request body that does not decode is the client's mistake: INVALID_ARGUMENT naming what is
 * wrong, on every protocol, never INTERNAL; and the call is logged like any other.
 */

const METHOD = "cyphr.identity.v1.IdentityService/CheckAvailability";
const PATH = `/${METHOD}`;
const INVALID_ARGUMENT = 3;

/** Field 1 (cyphr_id) claims 5 bytes and carries 1. */
const TRUNCATED = Uint8Array.from([0x0a, 0x05, 0x61]);
/** Field 1 (cyphr_id, a string) holding bytes that are not UTF-8. */
const NOT_UTF8 = Uint8Array.from([0x0a, 0x02, 0xff, 0xfe]);

let server: LoggedServer;
let user: RegisteredUser;
beforeAll(async () => {
  server = await startLoggedServer();
  user = await registerUser(identityClient("connect", server.baseUrl));
});
afterAll(() => server.close());

/** The one log line of the call that ended last for METHOD, once it is written. */
async function lastLine(method = METHOD) {
  const before = server.rpcLines(method).length;
  return async () => {
    const lines = await server.waitForRpcLines(method, before + 1);
    expect(lines.length).toBe(before + 1);
    return lines.at(-1)!;
  };
}

describe("a unary request message that does not decode", () => {
  it.each([
    ["a truncated field", TRUNCATED, /CheckAvailabilityRequest.*premature EOF|CheckAvailabilityRequest/],
    ["invalid UTF-8 in a string field", NOT_UTF8, /CheckAvailabilityRequest/],
  ])("over gRPC (HTTP/2) with %s answers INVALID_ARGUMENT naming the message, and is logged", async (_name, bytes, message) => {
    const line = await lastLine();
    const answer = await h2Request(server.baseUrl, { path: PATH, headers: { "content-type": "application/grpc", te: "trailers" }, body: [envelope(bytes)] });
    expect(grpcStatus(answer)).toEqual({ code: INVALID_ARGUMENT, message: expect.stringMatching(message) });
    expect(await line()).toMatchObject({ method: METHOD, code: "InvalidArgument", durationMs: expect.any(Number) });
  });

  it("over gRPC-Web (HTTP/1.1) answers INVALID_ARGUMENT in its trailer frame, and is logged", async () => {
    const line = await lastLine();
    const answer = await h1Request(server.port, { path: PATH, headers: { "content-type": "application/grpc-web+proto" }, body: envelope(NOT_UTF8) });
    expect(grpcStatus(answer)).toEqual({ code: INVALID_ARGUMENT, message: expect.stringContaining("CheckAvailabilityRequest") });
    expect(await line()).toMatchObject({ code: "InvalidArgument" });
  });

  it("over Connect with a binary body answers 400 invalid_argument, and is logged", async () => {
    const line = await lastLine();
    const answer = await h1Request(server.port, { path: PATH, headers: { "content-type": "application/proto" }, body: TRUNCATED });
    expect(answer.httpStatus).toBe(400);
    expect(connectError(answer)).toEqual({ code: "invalid_argument", message: expect.stringContaining("CheckAvailabilityRequest") });
    expect(await line()).toMatchObject({ code: "InvalidArgument" });
  });

  it.each([
    ["malformed JSON", Buffer.from('{"cyphrId": ')],
    ["JSON that is not UTF-8", Buffer.concat([Buffer.from('{"cyphrId":"'), Buffer.from([0xff]), Buffer.from('"}')])],
    ["JSON of the wrong type", Buffer.from('{"cyphrId": {"nested": true}}')],
  ])("over Connect with %s answers invalid_argument, and is logged", async (_name, body) => {
    const line = await lastLine();
    const answer = await h1Request(server.port, { path: PATH, headers: { "content-type": "application/json" }, body });
    expect(answer.httpStatus).toBe(400);
    expect(connectError(answer)).toEqual({ code: "invalid_argument", message: expect.stringContaining("JSON") });
    expect(await line()).toMatchObject({ code: "InvalidArgument" });
  });

  it.each([
    ["message that is not base64", "connect=v1&encoding=proto&base64=1&message=%25%25%25"],
    ["message that does not decode", `connect=v1&encoding=proto&base64=1&message=${Buffer.from(TRUNCATED).toString("base64url")}`],
    ["JSON message that does not parse", `connect=v1&encoding=json&message=${encodeURIComponent("{nope")}`],
  ])("over Connect GET with a %s answers invalid_argument, and is logged", async (_name, query) => {
    const line = await lastLine();
    const answer = await h1Request(server.port, { method: "GET", path: `${PATH}?${query}` });
    expect(answer.httpStatus).toBe(400);
    expect(connectError(answer)?.code).toBe("invalid_argument");
    expect(await line()).toMatchObject({ code: "InvalidArgument" });
  });

  it("gzip-flagged bytes that are not gzip answer INVALID_ARGUMENT", async () => {
    const answer = await h2Request(server.baseUrl, {
      path: PATH,
      headers: { "content-type": "application/grpc", "grpc-encoding": "gzip", te: "trailers" },
      body: [envelope(Uint8Array.from([1, 2, 3, 4]), 0x01)],
    });
    expect(grpcStatus(answer)?.code).toBe(INVALID_ARGUMENT);
  });

  it("a request that decodes still succeeds after all this", async () => {
    const ok = await identityClient("grpc", server.baseUrl).checkAvailability({ cyphrId: "fine_name_42" });
    expect(ok.available).toBe(true);
  });
});

describe("a streaming request frame that does not decode", () => {
  const SUBSCRIBE = "cyphr.realtime.v1.RealtimeService/Subscribe";
  const CONNECT = "cyphr.realtime.v1.RealtimeService/Connect";

  it("ends a Connect server stream (Subscribe) with invalid_argument, and is logged", async () => {
    const line = await lastLine(SUBSCRIBE);
    // Field 1 (resume_cursor, a varint) that never ends.
    const answer = await h2Request(server.baseUrl, {
      path: `/${SUBSCRIBE}`,
      headers: { "content-type": "application/connect+proto", authorization: `Bearer ${user.accessToken}` },
      body: [envelope(Uint8Array.from([0x08, 0xff, 0xff]))],
    });
    expect(connectError(answer)?.code).toBe("invalid_argument");
    expect(await line()).toMatchObject({ method: SUBSCRIBE, code: "InvalidArgument" });
  });

  it("mid-stream ends a Connect bidi stream with invalid_argument, and is logged", async () => {
    const line = await lastLine(CONNECT);
    const hello = toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { frame: { frame: { case: "hello", value: {} } } }));
    const answer = await h2Request(server.baseUrl, {
      path: `/${CONNECT}`,
      headers: { "content-type": "application/connect+proto", authorization: `Bearer ${user.accessToken}` },
      body: [envelope(hello), envelope(TRUNCATED)],
      keepOpen: true,
    });
    expect(connectError(answer)).toEqual({ code: "invalid_argument", message: expect.stringContaining("does not decode") });
    expect(await line()).toMatchObject({ method: CONNECT, code: "InvalidArgument" });
  });

  it("mid-stream ends a gRPC bidi stream with INVALID_ARGUMENT", async () => {
    const hello = toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { frame: { frame: { case: "hello", value: {} } } }));
    const answer = await h2Request(server.baseUrl, {
      path: `/${CONNECT}`,
      headers: { "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${user.accessToken}` },
      body: [envelope(hello), envelope(NOT_UTF8)],
      keepOpen: true,
    });
    expect(grpcStatus(answer)?.code).toBe(INVALID_ARGUMENT);
  });
});
