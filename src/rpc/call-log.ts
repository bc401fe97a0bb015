import type http from "node:http";
import type http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { codeFromString } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "pino";
import { recordCall } from "../metrics/registry.js";
import { wasResetForStall } from "../transport/write-watchdog.js";
import type { Call } from "./call.js";
import { specEncodeGrpcMessage } from "./grpc-message.js";

type Response = http.ServerResponse | http2.Http2ServerResponse;

/** A body chunk longer than this cannot be a status frame worth reading. */
const STATUS_CHUNK_MAX_BYTES = 16 * 1024;

/**
 * Writes the call's one log line when its response closes: method, the code the client
 * actually got, duration. The code comes from what was written on the wire (grpc-status, a
 * gRPC-Web trailer frame, a Connect error body or end-stream frame); a response that never
 * finished was cut off: by the server for a client that stopped reading (RESOURCE_EXHAUSTED),
 * otherwise by the client (CANCELED). Never headers, payloads, tokens or addresses.
 */
export function logCallOnClose(log: Logger, call: Call, res: Response): void {
  let finished = false;
  let lastChunk: Uint8Array | undefined;
  let contentType = "";
  specEncodeGrpcMessage(res, (status) => (call.wireCode = status as Code));
  const target = res as unknown as {
    write(chunk: unknown, ...rest: unknown[]): boolean;
    writeHead(status: number, headers?: Record<string, unknown>): unknown;
  };
  // Headers passed to writeHead alone are not kept where getHeader() finds them (HTTP/1.1).
  const writeHead = target.writeHead.bind(target);
  target.writeHead = (status, headers) => {
    contentType = String(headers?.["content-type"] ?? res.getHeader("content-type") ?? "");
    return writeHead(status, headers);
  };
  const write = target.write.bind(target);
  target.write = (chunk, ...rest) => {
    if (chunk instanceof Uint8Array) lastChunk = chunk.byteLength <= STATUS_CHUNK_MAX_BYTES ? chunk : undefined;
    return write(chunk, ...rest);
  };
  res.once("finish", () => (finished = true));
  res.once("close", () => {
    const code = finalCode(call, res, finished, contentType, lastChunk);
    // Refused at the HTTP level (unsupported content type, method or HTTP version): the client's mistake.
    const refusedByHttp = call.handlerCode === undefined && call.wireCode === undefined && res.statusCode !== 200;
    writeCallLine(log, call.method, code, call.startedMs, refusedByHttp ? { httpStatus: res.statusCode } : undefined);
  });
}

/**
 * The one log line of a call, whichever layer saw it end: method, the code its client got
 * (0: OK), duration in ms; error level for INTERNAL and UNKNOWN, info otherwise. Also
 * counts and times the call in the metrics (src/metrics/registry.ts).
 */
export function writeCallLine(log: Logger, method: string, code: Code | 0, startedMs: number, extra?: { httpStatus: number }): void {
  const elapsedMs = performance.now() - startedMs;
  recordCall(method, code, elapsedMs);
  const durationMs = Math.round(elapsedMs * 10) / 10;
  const line = { method, code: code === 0 ? "OK" : Code[code], durationMs, ...extra };
  if (code === Code.Internal || code === Code.Unknown) log.error(line, "rpc");
  else log.info(line, "rpc");
}

/** 0: OK. */
function finalCode(call: Call, res: Response, finished: boolean, contentType: string, lastChunk: Uint8Array | undefined): Code | 0 {
  if (wasResetForStall(res)) return Code.ResourceExhausted;
  if (!finished) return call.handlerCode === Code.ResourceExhausted ? Code.ResourceExhausted : Code.Canceled;
  const wire = call.wireCode ?? codeInBody(contentType, res.statusCode, lastChunk);
  return wire ?? call.handlerCode ?? (res.statusCode === 200 ? 0 : httpStatusCode(res.statusCode));
}

/** The code a gRPC client reports for an HTTP status without grpc-status (gRPC's HTTP-to-code mapping). */
function httpStatusCode(status: number): Code {
  if (status === 400) return Code.InvalidArgument;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.Unimplemented;
  if (status === 429 || status === 502 || status === 503 || status === 504) return Code.Unavailable;
  // The call layer answers 500 only when something unexpected broke in the server.
  if (status === 500) return Code.Internal;
  return Code.Unimplemented;
}

/** The status a gRPC-Web trailer frame, a Connect end-stream frame or a Connect unary error body carries. */
function codeInBody(contentType: string, httpStatus: number, chunk: Uint8Array | undefined): Code | 0 | undefined {
  if (contentType.startsWith("application/grpc-web")) {
    if (!chunk || chunk.byteLength < 5 || (chunk[0]! & 0x80) === 0) return undefined;
    const match = /grpc-status:\s*(\d+)/i.exec(Buffer.from(chunk.subarray(5)).toString("latin1"));
    return match ? (Number(match[1]) as Code) : undefined;
  }
  if (contentType.startsWith("application/connect+")) {
    if (!chunk || chunk.byteLength < 5 || (chunk[0]! & 0x02) === 0) return undefined;
    const end = parseJson(chunk.subarray(5)) as { error?: { code?: unknown } } | undefined;
    return end?.error ? codeOf(end.error.code) : 0;
  }
  if (httpStatus !== 200 && contentType.startsWith("application/json") && chunk) {
    return codeOf((parseJson(chunk) as { code?: unknown } | undefined)?.code);
  }
  return undefined;
}

function codeOf(name: unknown): Code {
  return (typeof name === "string" && codeFromString(name)) || Code.Unknown;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}
