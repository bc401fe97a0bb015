import type http from "node:http";
import type http2 from "node:http2";
import { type ConnectRouter, type ConnectRouterOptions, type ContextValues, createConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { stopUpload } from "../realtime/h2/protocol.js";
import type { RequestBudget } from "../transport/request-budget.js";
import { type Call, callKey, startCall } from "./call.js";
import { logCallOnClose } from "./call-log.js";
import { meterRequestBody } from "./metered-body.js";
import { checkRequest } from "./request-checks.js";
import { recordingUnaryMethods, type UnaryMethodSpec, type UnaryMethods } from "./unary/methods.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;
export type NodeHandler = (req: NodeRequest, res: NodeResponse) => void;

export interface CallHandlerOptions extends Omit<ConnectRouterOptions, "acceptCompression"> {
  routes: (router: ConnectRouter) => void;
  log: Logger;
  /** Largest request message accepted, in bytes. */
  readMaxBytes: number;
  /** Bytes of request bodies buffered, per connection and in all (src/transport/request-budget.ts). */
  requestBudget: RequestBudget;
  contextValues: (req: NodeRequest) => ContextValues;
  /** Everything that is not an RPC path (health endpoints, 404). */
  fallback: NodeHandler;
}

/**
 * The Node request handler for every RPC: connect-es's universal handlers, run the way
 * connectNodeAdapter runs them, plus what that adapter leaves out. Each call is logged
 * exactly once, with the code its client got (src/rpc/call-log.ts), whether it failed in a
 * handler, was refused before any interceptor ran, or was canceled; requests are checked
 * first (src/rpc/request-checks.ts); a failed write ends the call quietly instead of printing
 * a stack trace.
 */
export function createCallHandler(options: CallHandlerOptions): NodeHandler & { unaryMethods: UnaryMethods } {
  const router = createConnectRouter({ ...options, acceptCompression: [compressionGzip, compressionBrotli] });
  const unaryMethods = new Map<string, UnaryMethodSpec>();
  options.routes(recordingUnaryMethods(router, unaryMethods));
  const paths = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  const handler: NodeHandler = (req, res) => {
    const path = req.url?.split("?", 1)[0] ?? "";
    const uHandler = paths.get(path);
    if (!uHandler) return RPC_PATH.test(path) && isRpcContentType(req) ? unknownMethod(options.log, req, res) : options.fallback(req, res);
    const call = startCall(`${uHandler.service.typeName}/${uHandler.method.name}`);
    logCallOnClose(options.log, call, res);
    void serve(options, uHandler, call, req, res).catch((error: unknown) => {
      // Once the answer has started, this is a write to a client that went away: its log line says CANCELED.
      if (res.headersSent || res.destroyed) return;
      const err = error instanceof Error ? { name: error.name, message: error.message } : { value: String(error) };
      options.log.error({ method: call.method, err }, "call failed before its answer");
      res.writeHead(500);
      res.end();
    });
  };
  // The unary fast path (src/rpc/unary/) serves these methods with the same implementations.
  return Object.assign(handler, { unaryMethods });
}

async function serve(options: CallHandlerOptions, uHandler: UniversalHandler, call: Call, req: NodeRequest, res: NodeResponse): Promise<void> {
  let uReq;
  try {
    uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues(req).set(callKey, call));
  } catch {
    // No :authority / Host header: nothing to build the request URL from.
    res.writeHead(400, { "content-type": "text/plain" });
    res.end("a request needs a Host header");
    return;
  }
  uReq = meterRequestBody(options.requestBudget, uHandler.method, uReq, req, res);
  const checked = await checkRequest(uHandler.method, uReq, options.readMaxBytes);
  call.refusal = checked.refusal;
  if (checked.bodyUnread) leaveBodyUnread(req, res);
  const uRes = await uHandler(checked.req);
  await universalResponseToNodeResponse(uRes, res);
}

/**
 * The refused body is never read: HTTP/1.1 closes the connection after the answer, HTTP/2
 * resets the stream's upload once the answer is written: on the stream's own "finish", since
 * the response's "finish" can wait for the stream to close, which a client that never ends
 * its upload never lets happen.
 */
function leaveBodyUnread(req: NodeRequest, res: NodeResponse): void {
  if ("stream" in req) {
    req.stream.once("finish", () => stopUpload(req.stream));
    return;
  }
  res.setHeader("connection", "close");
}

/** "/package.Service/Method", the shape of every RPC path. */
const RPC_PATH = /^\/[A-Za-z_][\w.]*\/\w+$/;

function isRpcContentType(req: NodeRequest): boolean {
  return /^application\/(grpc|connect\+|proto|json)/i.test(String(req.headers["content-type"] ?? ""));
}

/**
 * A call to a method this server does not have: UNIMPLEMENTED in the caller's protocol (gRPC
 * and gRPC-Web as a trailers-only status, Connect as its 404 error), logged like every call
 * but without the path, which is caller input.
 */
function unknownMethod(log: Logger, req: NodeRequest, res: NodeResponse): void {
  log.info({ method: "(unknown)", code: "Unimplemented", durationMs: 0 }, "rpc");
  const contentType = String(req.headers["content-type"]);
  if (/^application\/grpc/i.test(contentType)) {
    res.writeHead(200, { "content-type": contentType.split(";")[0]!, "grpc-status": "12", "grpc-message": "no such method on this server" });
    res.end();
    return;
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: "unimplemented", message: "no such method on this server" }));
}
