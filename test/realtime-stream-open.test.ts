import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubscribeRequestSchema } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { type Participant, participants } from "./helpers/messaging.js";
import { enveloped, rawCall } from "./helpers/raw-h2.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * A Subscribe call carries exactly one SubscribeRequest. Without it, or with a second one,
 * the client is told INVALID_ARGUMENT naming the problem, whichever engine serves the call:
 * the HTTP/2 fast path (STREAM_ENGINE=h2, the default) or connect-es (STREAM_ENGINE=connect),
 * over gRPC and Connect alike.
 */

const SUBSCRIBE = "/cyphr.realtime.v1.RealtimeService/Subscribe";
const request = enveloped(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { resumeCursor: 0n })));

const engines: Record<string, TestServer> = {};
let user: Participant;
beforeAll(async () => {
  engines.h2 = await startTestServer({ env: { STREAM_ENGINE: "h2" } });
  engines.connect = await startTestServer({ env: { STREAM_ENGINE: "connect" }, databaseUrl: engines.h2.databaseUrl, dataDir: engines.h2.dataDir });
  [user] = await participants(engines.h2.baseUrl, 1);
});
afterAll(async () => {
  for (const server of Object.values(engines).reverse()) await server.close();
});

/** The status of a Subscribe call with `body`, as gRPC trailers or the Connect end-stream message carry it. */
async function subscribeStatus(server: TestServer, protocol: "grpc" | "connect", body: Buffer): Promise<{ code: string; message: string }> {
  const contentType = protocol === "grpc" ? "application/grpc" : "application/connect+proto";
  const call = rawCall(server.baseUrl, SUBSCRIBE, { "content-type": contentType, authorization: `Bearer ${user.accessToken}` });
  call.end(body);
  const headers = await call.headers;
  const { trailers } = await call.closed;
  if (protocol === "grpc") {
    const fields = trailers["grpc-status"] !== undefined ? trailers : headers;
    const codes: Record<string, string> = { "3": "invalid_argument", "12": "unimplemented" };
    return { code: codes[String(fields["grpc-status"])] ?? String(fields["grpc-status"]), message: decodeURIComponent(String(fields["grpc-message"] ?? "")) };
  }
  const end = call.envelopes.at(-1)!;
  expect(end.flags & 0x02).toBe(0x02);
  const { error } = JSON.parse(end.data.toString("utf8")) as { error?: { code: string; message: string } };
  return { code: error?.code ?? "ok", message: error?.message ?? "" };
}

describe.each(["h2", "connect"])("Subscribe on the %s engine", (engine) => {
  it.each(["grpc", "connect"] as const)("over %s: no request message, or two, is INVALID_ARGUMENT naming the problem", async (protocol) => {
    const server = engines[engine]!;
    expect(await subscribeStatus(server, protocol, Buffer.alloc(0))).toEqual({
      code: "invalid_argument",
      message: "the request carries no message; Subscribe takes exactly one request message",
    });
    expect(await subscribeStatus(server, protocol, Buffer.concat([request, request]))).toEqual({
      code: "invalid_argument",
      message: "the request carries more than one message; Subscribe takes exactly one request message",
    });
  });
});
