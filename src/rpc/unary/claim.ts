import type http2 from "node:http2";
import type { UnaryMethods } from "./methods.js";
import { unaryRouteOf } from "./route.js";
import { serveUnaryCall, type UnaryCallDeps } from "./serve.js";

/**
 * Claims the HTTP/2 streams of unary calls the fast path serves (binary protobuf over gRPC,
 * gRPC-Web or Connect, uncompressed: see route.ts) for every method in `methods`; leaves the
 * rest to Node's compatibility layer and connect-es.
 */
export function unaryCallClaim(methods: UnaryMethods, deps: UnaryCallDeps): (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean {
  return (stream, headers) => {
    const route = unaryRouteOf(methods, headers);
    if (!route) return false;
    serveUnaryCall(deps, stream, headers, route);
    return true;
  };
}
