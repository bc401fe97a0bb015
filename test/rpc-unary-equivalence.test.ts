import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckRequestSchema } from "../src/gen/grpc/health/v1/health_pb.js";
import { type LoggedServer, startLoggedServer } from "./helpers/logged-server.js";
import { envelope, type H2Request, h2Request, type RawAnswer } from "./helpers/raw-rpc.js";

/**
 * The unary fast path (src/rpc/unary/, STREAM_ENGINE=h2) answers every binary unary call
 * byte for byte as connect-es does (STREAM_ENGINE=connect): HTTP status, headers, body and
 * trailers, and leaves the same log line; only the Date header differs.
 */

let fast: LoggedServer;
let connectEs: LoggedServer;
beforeAll(async () => {
  [fast, connectEs] = await Promise.all([startLoggedServer({ STREAM_ENGINE: "h2" }), startLoggedServer({ STREAM_ENGINE: "connect" })]);
});
afterAll(() => Promise.all([fast?.close(), connectEs?.close()]));

const HEALTH_CHECK = "grpc.health.v1.Health/Check";
const SEND_MESSAGE = "cyphr.messaging.v1.MessagingService/SendMessage";
const CONTENT_TYPES = { grpc: "application/grpc", "grpc-web": "application/grpc-web+proto", connect: "application/proto" } as const;
type Protocol = keyof typeof CONTENT_TYPES;

/**
 * The answer with the Date header taken out, and a gRPC-Web trailer frame read as its fields:
 * its grpc-message is compared as the text clients decode (connect-es percent-encodes every
 * reserved character there, the fast path only what the gRPC spec asks, as in every gRPC
 * trailer of this server).
 */
function comparable(answer: RawAnswer) {
  const { date: _date, ...headers } = answer.headers;
  const messages: unknown[] = [];
  for (let offset = 0; offset + 5 <= answer.body.length; ) {
    const length = answer.body.readUInt32BE(offset + 1);
    const data = answer.body.subarray(offset + 5, offset + 5 + length);
    messages.push(
      answer.body[offset] === 0x80 && String(headers["content-type"]).startsWith("application/grpc-web") ? trailerFields(data) : data.toString("hex"),
    );
    offset += 5 + length;
  }
  const payload = String(headers["content-type"]).startsWith("application/grpc") ? messages : answer.body.toString("hex");
  return { httpStatus: answer.httpStatus, headers, trailers: answer.trailers, payload, rstCode: answer.rstCode };
}

function trailerFields(data: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of data.toString("latin1").split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  if (fields["grpc-message"] !== undefined) fields["grpc-message"] = decodeURIComponent(fields["grpc-message"]);
  return fields;
}

async function bothAnswer(method: string, request: Omit<H2Request, "path">) {
  const beforeFast = fast.rpcLines(method).length;
  const beforeConnect = connectEs.rpcLines(method).length;
  const [a, b] = await Promise.all([
    h2Request(fast.baseUrl, { ...request, path: `/${method}` }),
    h2Request(connectEs.baseUrl, { ...request, path: `/${method}` }),
  ]);
  const [linesA, linesB] = await Promise.all([fast.waitForRpcLines(method, beforeFast + 1), connectEs.waitForRpcLines(method, beforeConnect + 1)]);
  const line = (l: { method?: string; code?: string; level: number }) => ({ method: l.method, code: l.code, level: l.level });
  return { fast: comparable(a), connectEs: comparable(b), fastLine: line(linesA.at(-1)!), connectEsLine: line(linesB.at(-1)!) };
}

function body(protocol: Protocol, message: Uint8Array): Uint8Array[] {
  return [protocol === "connect" ? message : envelope(message)];
}

const healthCheck = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, {}));
const notProtobuf = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);

describe.each(["grpc", "grpc-web", "connect"] as const)("a unary call over %s (binary)", (protocol) => {
  const headers = (extra: Record<string, string> = {}) => ({ "content-type": CONTENT_TYPES[protocol], te: "trailers", ...extra });
  const cases: [string, Omit<H2Request, "path">, string][] = [
    ["that succeeds", { headers: headers(), body: body(protocol, healthCheck) }, HEALTH_CHECK],
    [
      "from a client that accepts gzip",
      { headers: headers({ "grpc-accept-encoding": "gzip", "accept-encoding": "gzip" }), body: body(protocol, healthCheck) },
      HEALTH_CHECK,
    ],
    ["without a token", { headers: headers(), body: body(protocol, new Uint8Array(0)) }, SEND_MESSAGE],
    [
      "with a token that does not verify",
      { headers: headers({ authorization: "Bearer e30.e30.c2ln" }), body: body(protocol, new Uint8Array(0)) },
      SEND_MESSAGE,
    ],
    ["whose request does not decode", { headers: headers(), body: body(protocol, notProtobuf) }, SEND_MESSAGE],
    [
      "whose deadline header does not parse",
      { headers: headers({ "grpc-timeout": "soon", "connect-timeout-ms": "soon" }), body: body(protocol, healthCheck) },
      HEALTH_CHECK,
    ],
    [
      "whose deadline has already passed",
      { headers: headers({ "grpc-timeout": "0n", "connect-timeout-ms": "0" }), body: body(protocol, new Uint8Array(0)) },
      SEND_MESSAGE,
    ],
    [
      "whose body is announced over the limit",
      { headers: headers({ "content-length": String(1024 ** 3) }), body: [Buffer.alloc(1024)], keepOpen: true },
      HEALTH_CHECK,
    ],
  ];
  it.each(cases)("%s is answered and logged as connect-es answers and logs it", async (_name, request, method) => {
    const answers = await bothAnswer(method, request);
    expect(answers.fast).toEqual(answers.connectEs);
    expect(answers.fastLine).toEqual(answers.connectEsLine);
  });
});

describe("a unary call over grpc that its client resets before its request ends", () => {
  it("is answered as connect-es answers it, and logged CANCELED (connect-es logs the status the client never took)", async () => {
    const answers = await bothAnswer(SEND_MESSAGE, { headers: { "content-type": CONTENT_TYPES.grpc, te: "trailers" }, keepOpen: true, cancelAfterMs: 100 });
    expect(answers.fast).toEqual(answers.connectEs);
    expect(answers.fastLine).toEqual({ ...answers.connectEsLine, code: "Canceled" });
  });
});

// Connect and gRPC-Web carry the status in the body: once that body is handed to the stream
// before the reset comes in, the call is logged with it, as connect-es logs it.
describe.each(["grpc-web", "connect"] as const)("a unary call over %s that its client resets before its request ends", (protocol) => {
  it("is answered and logged as connect-es answers and logs it", async () => {
    const answers = await bothAnswer(SEND_MESSAGE, {
      headers: { "content-type": CONTENT_TYPES[protocol], te: "trailers" },
      keepOpen: true,
      cancelAfterMs: 100,
    });
    expect(answers.fast).toEqual(answers.connectEs);
    expect(answers.fastLine).toEqual(answers.connectEsLine);
  });
});

describe("a gRPC unary call whose body is not one envelope", () => {
  const headers = { "content-type": "application/grpc", te: "trailers" };
  it.each([
    ["an empty body", []],
    ["an envelope cut short", [envelope(healthCheck).subarray(0, 3)]],
    ["two envelopes", [envelope(healthCheck), envelope(healthCheck)]],
    ["a compressed envelope without grpc-encoding", [envelope(healthCheck, 1)]],
  ] as [string, Uint8Array[]][])("(%s) is answered and logged as connect-es answers and logs it", async (_name, chunks) => {
    const answers = await bothAnswer(HEALTH_CHECK, { headers, body: chunks });
    expect(answers.fast).toEqual(answers.connectEs);
    expect(answers.fastLine).toEqual(answers.connectEsLine);
  });
});
