import http2 from "node:http2";
import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { invokeUnaryImplementation } from "@connectrpc/connect/protocol";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import type { Logger } from "pino";
import type { RequestBudget } from "../../transport/request-budget.js";
import { type Call, callKey, startCall } from "../call.js";
import { writeCallLine } from "../call-log.js";
import { peerAddressKey } from "../peer.js";
import { MAX_DEADLINE_MS } from "../request-checks.js";
import { resetCallStream, resetStreamKey, transportBacklogKey } from "../stream-reset.js";
import { readUnaryInput } from "./request.js";
import { UnaryResponder, type UnaryResult } from "./respond.js";
import type { UnaryRoute } from "./route.js";

export interface UnaryCallDeps {
  /** The same interceptors connect-es runs (observe, authenticate): auth, error mapping and the call's code are theirs. */
  interceptors: Interceptor[];
  log: Logger;
  /** Aborts when the server shuts down. */
  shutdownSignal: AbortSignal;
  /** Largest request message, in bytes. */
  readMaxBytes: number;
  /** Bytes of request bodies buffered, per connection and in all (src/transport/request-budget.ts). */
  requestBudget: RequestBudget;
}

/** The reason the call's signal carries once its answer is written (connect-es aborts it then too). */
const CALL_ENDED = new ConnectError("the call ended", Code.Canceled);
const CLIENT_GONE = new ConnectError("the client went away", Code.Canceled);

/**
 * Serves one unary call on its HTTP/2 stream without Node's compatibility layer or connect-es's
 * per-request pipeline: the body read once and decoded once, then the method's own
 * implementation through connect-es's invokeUnaryImplementation with the server's interceptors,
 * and the answer written as connect-es writes it (src/rpc/unary/respond.ts). The call's log line
 * comes from writeCallLine with the code its client got, as on every other path.
 */
export function serveUnaryCall(deps: UnaryCallDeps, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, route: UnaryRoute): void {
  const { spec, protocol } = route;
  const call = startCall(`${spec.method.parent.typeName}/${spec.method.name}`);
  const responder = new UnaryResponder(stream, protocol, headers);
  const controller = new AbortController();
  let wireCode: Code | 0 | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const abort = (reason: unknown) => controller.signal.aborted || controller.abort(reason);
  const onShutdown = () => abort(deps.shutdownSignal.reason);
  deps.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
  stream.on("error", () => undefined); // a reset by the client; "close" follows
  // "close" comes once: `on` spares the wrapper `once` makes per call.
  stream.on("close", () => {
    deps.shutdownSignal.removeEventListener("abort", onShutdown);
    clearTimeout(deadline);
    abort(CLIENT_GONE);
    writeCallLine(deps.log, call.method, finalCode(stream, responder.delivered, call, wireCode), call.startedMs);
  });
  if (deps.shutdownSignal.aborted) onShutdown();

  const timeout = clientTimeout(protocol, headers);
  if (timeout.timeoutMs !== undefined) {
    const expire = () => abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    if (timeout.timeoutMs <= 0) expire();
    else deadline = setTimeout(expire, Math.min(timeout.timeoutMs, MAX_DEADLINE_MS));
  }
  const deadlineAt = timeout.timeoutMs === undefined ? undefined : Date.now() + timeout.timeoutMs;
  const context: HandlerContext = {
    method: spec.method,
    service: spec.method.parent,
    signal: controller.signal,
    timeoutMs: () => (deadlineAt === undefined ? undefined : deadlineAt - Date.now()),
    requestMethod: "POST",
    requestHeader: requestHeaders(headers),
    responseHeader: new Headers(),
    responseTrailer: new Headers(),
    protocolName: protocol,
    values: createContextValues()
      .set(callKey, call)
      .set(resetStreamKey, (reason) => resetCallStream(stream, reason))
      .set(transportBacklogKey, () => (stream.destroyed ? 0 : stream.writableLength))
      .set(peerAddressKey, stream.session?.socket?.remoteAddress ?? ""),
    url: `${stream.session?.encrypted ? "https" : "http"}://${headers[":authority"]}${headers[":path"]}`,
  };

  const run = async (): Promise<UnaryResult> => {
    if (timeout.error) return { error: timeout.error };
    const input = await readUnaryInput(stream, headers, route, deps.readMaxBytes, deps.requestBudget);
    if (input.protocolError) return { error: input.protocolError };
    call.refusal = input.refusal;
    const output = await invokeUnaryImplementation(spec, context, input.message, deps.interceptors);
    return { output: toBinary(spec.method.output, output) };
  };
  void run()
    .catch((error: unknown): UnaryResult => ({ error: error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal) }))
    .then((result) => {
      abort(CALL_ENDED);
      clearTimeout(deadline);
      wireCode = result.error ? result.error.code : 0;
      return responder.respond(result, context.responseHeader, context.responseTrailer);
    })
    .catch(() => undefined); // a write to a client that went away: its log line says CANCELED
}

/** The code the client got, as src/rpc/call-log.ts decides it for the connect-es path. */
function finalCode(stream: http2.ServerHttp2Stream, delivered: boolean, call: Call, wireCode: Code | 0 | undefined): Code | 0 {
  // The write watchdog resets a stream whose client stopped reading with ENHANCE_YOUR_CALM.
  if (stream.rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM) return Code.ResourceExhausted;
  // The client reset the call: it did not take the status (a Node client ends its side first, so the request looked complete).
  if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) return Code.Canceled;
  if (!delivered) return call.handlerCode === Code.ResourceExhausted ? Code.ResourceExhausted : Code.Canceled;
  return wireCode ?? call.handlerCode ?? 0;
}

function clientTimeout(protocol: UnaryRoute["protocol"], headers: http2.IncomingHttpHeaders): { timeoutMs?: number; error?: ConnectError } {
  const value = protocol === "connect" ? headers["connect-timeout-ms"] : headers["grpc-timeout"];
  if (typeof value !== "string") return {};
  return protocol === "connect" ? parseConnectTimeout(value, Number.MAX_SAFE_INTEGER) : parseGrpcTimeout(value, Number.MAX_SAFE_INTEGER);
}

/** The request headers as connect-es hands them to interceptors and handlers (no HTTP/2 pseudo-headers). */
function requestHeaders(headers: http2.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const key in headers) {
    if (key.charCodeAt(0) === 58 /* ":" */) continue;
    const value = headers[key];
    if (Array.isArray(value)) for (const v of value) out.append(key, v);
    else if (value !== undefined) out.append(key, value);
  }
  return out;
}
