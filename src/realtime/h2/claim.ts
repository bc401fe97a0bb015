import type http2 from "node:http2";
import { streamRouteOf } from "./protocol.js";
import { type StreamCallDeps, serveStreamCall } from "./stream-call.js";

/** Claims the HTTP/2 streams of `Connect` and `Subscribe` calls the fast path can serve (see protocol.ts); leaves the rest. */
export function realtimeStreamClaim(deps: StreamCallDeps): (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean {
  return (stream, headers) => {
    const route = streamRouteOf(headers);
    if (!route) return false;
    serveStreamCall(deps, stream, headers, route);
    return true;
  };
}
