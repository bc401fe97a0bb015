import type http2 from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { type Compression, compressionNegotiate } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, trailerMux } from "@connectrpc/connect/protocol-connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { StreamResponder, stopUpload } from "../../realtime/h2/protocol.js";
import type { UnaryProtocol } from "./route.js";

/** The compressions the connect-es router offers (src/rpc/call-handler.ts), in its order of preference. */
const COMPRESSIONS: Compression[] = [compressionGzip, compressionBrotli];
/** connect-es's default compressMinBytes, which the router uses: smaller messages are sent as they are. */
const COMPRESS_MIN_BYTES = 1024;

/** How a unary call ended: its response message in binary, or its error. */
export type UnaryResult = { output: Uint8Array; error?: undefined } | { output?: undefined; error: ConnectError };

/**
 * Writes a unary call's answer on its HTTP/2 stream as connect-es's handlers do: gRPC (headers,
 * one message, trailers), gRPC-Web (headers, one message, a trailer frame) through the fast
 * path's StreamResponder, Connect unary (an HTTP status, the message or a JSON error body,
 * trailers as trailer- headers). The handler's response headers and trailers go with it; the
 * response is compressed when the client accepts it and the message reaches 1 KiB, as
 * connect-es compresses.
 */
export class UnaryResponder {
  private readonly enveloped: StreamResponder | undefined;
  private readonly compression: Compression | null;
  private bodyEnded = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly protocol: UnaryProtocol,
    headers: http2.IncomingHttpHeaders,
  ) {
    const acceptName = protocol === "connect" ? "accept-encoding" : "grpc-accept-encoding";
    const accept = headers[acceptName];
    this.compression = typeof accept === "string" ? compressionNegotiate(COMPRESSIONS, null, accept, acceptName).response : null;
    this.enveloped = protocol === "connect" ? undefined : new StreamResponder(stream, protocol);
  }

  /**
   * The answer was handed to the transport in full, status included: for gRPC once its
   * trailers went out; for Connect and gRPC-Web, whose status travels in the body, once that
   * body was ended. Not the end() callback: when the client's END_STREAM is already in, nghttp2
   * closes the stream as soon as the last frame is sent, and "close" can come before it.
   */
  get delivered(): boolean {
    return this.protocol === "grpc" ? this.enveloped!.delivered : this.bodyEnded;
  }

  async respond(result: UnaryResult, header: Headers, trailer: Headers): Promise<void> {
    if (this.enveloped) return this.respondEnveloped(this.enveloped, result, header, trailer);
    let status = 200;
    let body: Uint8Array;
    if (result.error) {
      status = codeToHttpStatus(result.error.code);
      header.set("content-type", "application/json");
      result.error.metadata.forEach((value, key) => header.set(key, value));
      body = errorToJsonBytes(result.error, undefined);
    } else {
      header.set("content-type", "application/proto");
      body = result.output;
    }
    if (this.compression && body.byteLength >= COMPRESS_MIN_BYTES) {
      body = await this.compression.compress(body);
      header.set("content-encoding", this.compression.name);
    }
    const all = trailerMux(header, trailer);
    all.set("content-length", String(body.byteLength));
    if (this.stream.destroyed || this.stream.closed) return;
    this.stream.respond({ ...record(all), ":status": status });
    this.stream.end(body);
    this.bodyEnded = true;
    stopUpload(this.stream);
  }

  private async respondEnveloped(responder: StreamResponder, result: UnaryResult, header: Headers, trailer: Headers): Promise<void> {
    const fields = record(header);
    if (this.compression) fields["grpc-encoding"] = this.compression.name;
    let message = result.output;
    let flags = 0;
    if (message && this.compression && message.byteLength >= COMPRESS_MIN_BYTES) {
      message = await this.compression.compress(message);
      flags = 1;
    }
    if (this.stream.destroyed || this.stream.closed) return;
    responder.open(fields);
    if (message) responder.write(message, flags);
    responder.finish(result.error, trailer);
    this.bodyEnded = true;
  }
}

function record(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => (out[key] = value));
  return out;
}
