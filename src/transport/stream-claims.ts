import type http2 from "node:http2";

/** Takes an HTTP/2 stream and serves it itself (true), or leaves it to the request handler (false). */
export type StreamClaim = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

type StreamListener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

/**
 * Lets `claim` see each HTTP/2 stream before Node's compatibility layer builds a request and
 * a response object for it: a claimed stream is served on the core stream API and never
 * reaches the request handler; every other stream goes on to it as before. Node installs that
 * layer as the server's "stream" listener when a request handler is given; it is moved behind
 * the claim here.
 */
export function claimStreams(server: http2.Http2Server | http2.Http2SecureServer, claim: StreamClaim): void {
  const [compat, ...others] = server.listeners("stream") as StreamListener[];
  if (!compat || others.length > 0) throw new Error("claimStreams needs a server whose only stream listener is Node's compatibility layer");
  server.removeListener("stream", compat);
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    if (!claim(stream, headers)) compat.call(server, stream, headers, flags, rawHeaders);
  });
}
