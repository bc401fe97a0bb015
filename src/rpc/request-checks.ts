import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createAsyncIterable, readAllBytes, type UniversalServerRequest } from "@connectrpc/connect/protocol";
import { BudgetRefusalError } from "./request-budget.js";
import { decodeUnaryMessage, type UnaryWire, unaryWire } from "./unary-decode.js";

/**
 * Longest deadline honoured, in milliseconds: Node's timers overflow past 2^31-1 ms and fire
 * at once, so a client asking for more (`grpc-timeout: 597H`) gets this instead (~24.8 days).
 */
export const MAX_DEADLINE_MS = 2 ** 31 - 1;

/** Bytes a gRPC envelope adds to a message. */
export const ENVELOPE_BYTES = 5;

export interface CheckedRequest {
  req: UniversalServerRequest;
  /** Set when the request is refused; `req` then carries a harmless stand-in body. */
  refusal?: ConnectError;
  /** The request body was left unread: the connection must not be reused for another request. */
  bodyUnread?: boolean;
}

/**
 * What the call layer checks before connect-es sees a request: an over-long deadline is
 * clamped; a body announced larger than `readMaxBytes` is refused without reading it; a
 * unary request message that does not decode is refused naming the problem (connect-es
 * would answer INTERNAL without running any interceptor).
 */
export async function checkRequest(method: DescMethod, req: UniversalServerRequest, readMaxBytes: number): Promise<CheckedRequest> {
  clampDeadline(req.header);
  const wire = unaryWire(method, req);
  const length = Number(req.header.get("content-length") ?? "0");
  // One request message (unary, server-streaming): its body can be no larger than the message limit.
  const singleMessage = method.methodKind === "unary" || method.methodKind === "server_streaming";
  if (singleMessage && Number.isFinite(length) && length > readMaxBytes + ENVELOPE_BYTES) {
    return { req: standIn(req, wire), refusal: oversizeBody(length, readMaxBytes), bodyUnread: true };
  }
  if (wire === undefined) return { req };
  let body: Uint8Array;
  try {
    body =
      wire === "connect-get"
        ? new Uint8Array(0)
        : await readAllBytes(req.body as AsyncIterable<Uint8Array>, readMaxBytes + ENVELOPE_BYTES, req.header.get("content-length"));
  } catch (error) {
    const refusal = ConnectError.from(error, Code.InvalidArgument);
    // Refused by the budget of buffered request bytes: the rest of the body stays unread.
    return { req: standIn(req, wire), refusal, bodyUnread: error instanceof BudgetRefusalError };
  }
  const problem = await decodeUnaryMessage(method, req, wire, body, readMaxBytes);
  if (problem) return { req: standIn(req, wire), refusal: problem };
  return { req: wire === "connect-get" ? req : { ...req, body: createAsyncIterable([body]) } };
}

/** The refusal of a request body announced (content-length) larger than one message may be. */
export function oversizeBody(length: number, readMaxBytes: number): ConnectError {
  return new ConnectError(`request body of ${length} bytes is over the limit of ${readMaxBytes} bytes`, Code.ResourceExhausted);
}

function clampDeadline(header: Headers): void {
  const grpc = header.get("grpc-timeout");
  const grpcMatch = grpc === null ? null : /^(\d{1,8})([HMSmun])$/.exec(grpc);
  if (grpcMatch) {
    const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 }[grpcMatch[2] as "H"];
    if (Number(grpcMatch[1]) * unitMs > MAX_DEADLINE_MS) header.set("grpc-timeout", `${Math.floor(MAX_DEADLINE_MS / 1000)}S`);
  }
  const connect = header.get("connect-timeout-ms");
  if (connect !== null && /^\d{1,10}$/.test(connect) && Number(connect) > MAX_DEADLINE_MS) {
    header.set("connect-timeout-ms", String(MAX_DEADLINE_MS));
  }
}

/**
 * The same call with an empty request message in place of the refused one, so connect-es
 * reaches the interceptors (which raise the refusal) and answers in the caller's protocol.
 */
function standIn(req: UniversalServerRequest, wire: UnaryWire | undefined): UniversalServerRequest {
  const header = new Headers(req.header);
  header.delete("content-length");
  header.delete("content-encoding");
  if (wire === "connect-get") {
    const url = new URL(req.url);
    url.searchParams.set("message", url.searchParams.get("encoding") === "json" ? "{}" : "");
    url.searchParams.delete("base64");
    url.searchParams.delete("compression");
    return { ...req, url: url.toString(), header };
  }
  let body: Uint8Array[] = [];
  if (wire === "enveloped") body = [new Uint8Array(ENVELOPE_BYTES)];
  if (wire === "connect-json") body = [new TextEncoder().encode("{}")];
  return { ...req, header, body: createAsyncIterable(body) };
}
