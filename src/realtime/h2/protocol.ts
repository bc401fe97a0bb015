import http2 from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag } from "@connectrpc/connect/protocol-grpc-web";
import { encodeGrpcMessage } from "../../rpc/grpc-message.js";
import { envelope } from "./envelopes.js";

/** The wire protocols the fast path speaks, each with binary protobuf and no compression. */
export type WireProtocol = "grpc" | "grpc-web" | "connect";

/** The two streaming methods the fast path carries. */
export type StreamMethod = "Connect" | "Subscribe";

export interface StreamRoute {
  method: StreamMethod;
  protocol: WireProtocol;
}

const SERVICE = "cyphr.realtime.v1.RealtimeService";
/** How long a client that keeps sending after its call ended has to close its side before the stream is reset. */
const UPLOAD_STOP_DELAY_MS = 1000;
const PATHS: Record<string, StreamMethod> = { [`/${SERVICE}/Connect`]: "Connect", [`/${SERVICE}/Subscribe`]: "Subscribe" };

const CONTENT_TYPES: Record<WireProtocol, string> = {
  grpc: "application/grpc+proto",
  "grpc-web": "application/grpc-web+proto",
  connect: "application/connect+proto",
};

/**
 * The route of a request the fast path can serve: POST to Connect or Subscribe, binary
 * protobuf, uncompressed. Anything else (JSON, gRPC-Web text, compressed requests) is left to
 * connect-es, which serves every form.
 */
export function streamRouteOf(headers: http2.IncomingHttpHeaders): StreamRoute | undefined {
  if (headers[":method"] !== "POST") return undefined;
  const method = PATHS[headers[":path"] ?? ""];
  if (!method) return undefined;
  const protocol = binaryProtocolOf(headers["content-type"], "application/connect+proto");
  if (!protocol) return undefined;
  const encoding = protocol === "connect" ? headers["connect-content-encoding"] : headers["grpc-encoding"];
  if (encoding !== undefined && encoding !== "identity") return undefined;
  return { method, protocol };
}

/**
 * The protocol of a binary-protobuf request by its content type: gRPC and gRPC-Web as
 * themselves, Connect by `connectType` (`application/connect+proto` for streaming calls,
 * `application/proto` for unary ones); undefined for every other form.
 */
export function binaryProtocolOf(contentType: string | undefined, connectType: string): WireProtocol | undefined {
  switch (contentType?.toLowerCase()) {
    case "application/grpc":
    case "application/grpc+proto":
      return "grpc";
    case "application/grpc-web":
    case "application/grpc-web+proto":
      return "grpc-web";
    case connectType:
      return "connect";
    default:
      return undefined;
  }
}

/** The request header carrying the client's deadline, per protocol. */
export function timeoutHeader(protocol: WireProtocol): string {
  return protocol === "connect" ? "connect-timeout-ms" : "grpc-timeout";
}

/**
 * Writes one call's response in its protocol: the headers, enveloped messages, and the final
 * status (gRPC trailers, a gRPC-Web trailer frame, or a Connect end-stream message).
 */
export class StreamResponder {
  private headersSent = false;
  /** The final status was handed to the transport (nghttp2), so a client reading it will see it. */
  delivered = false;
  private finished = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly protocol: WireProtocol,
  ) {}

  /** Sends the response headers (once), with the call's own `headers` (a unary handler's response headers) if given. */
  open(headers?: Record<string, string>): void {
    if (this.headersSent || this.stream.destroyed) return;
    this.headersSent = true;
    this.stream.respond({ ...headers, ":status": 200, "content-type": CONTENT_TYPES[this.protocol] }, { waitForTrailers: this.protocol === "grpc" });
    forgetSentHeaders(this.stream);
  }

  /** Writes one message (`flags` 1: compressed); false when the transport's buffer is full (wait for "drain"). */
  write(message: Uint8Array, flags = 0): boolean {
    return this.writeEnvelope(envelope(flags, message));
  }

  /** Writes one message already in its envelope (src/realtime/h2/frame-encoding.ts); as write(). */
  writeEnvelope(enveloped: Uint8Array): boolean {
    this.open();
    return this.stream.write(enveloped);
  }

  /**
   * Ends the call with OK, or with `error`, after the call's own `trailers` if given (a unary
   * handler's response trailers). A client still sending is then told to stop
   * (RST_STREAM NO_ERROR once the status is out), so an unread upload is never taken in.
   */
  finish(error: ConnectError | undefined, trailers?: Headers): void {
    if (this.finished || this.stream.destroyed || this.stream.closed) return;
    this.finished = true;
    const status = statusFields(error, trailers);
    if (this.protocol === "grpc") {
      if (!this.headersSent) {
        // Trailers-only: the status travels in the headers of an empty response.
        this.headersSent = true;
        this.stream.respond({ ":status": 200, "content-type": CONTENT_TYPES.grpc, ...status }, { endStream: true });
        this.delivered = true;
        stopUpload(this.stream);
        return;
      }
      this.stream.once("wantTrailers", () => {
        this.stream.sendTrailers(status);
        this.delivered = true;
        stopUpload(this.stream);
      });
      this.stream.end();
      return;
    }
    this.open();
    if (this.protocol === "grpc-web") {
      const lines = Object.entries(status).map(([key, value]) => `${key}: ${value}\r\n`);
      this.stream.end(envelope(trailerFlag, Buffer.from(lines.join(""), "utf8")), () => (this.delivered = true));
    } else {
      // endStreamToJson adds the error's own metadata; the first argument is the call's trailers (none).
      const end = endStreamToJson(new Headers(), error, undefined);
      this.stream.end(envelope(endStreamFlag, Buffer.from(JSON.stringify(end), "utf8")), () => (this.delivered = true));
    }
    stopUpload(this.stream);
  }
}

/**
 * A client still sending after its status was written is reset (RST_STREAM NO_ERROR) a
 * moment later: a reset submitted at once can overtake the trailers in nghttp2's queue.
 * Until then its data is read and dropped (Node closes a stream only once its request side
 * has been read to the end).
 */
export function stopUpload(stream: http2.ServerHttp2Stream): void {
  if (stream.readableEnded || stream.destroyed) return;
  stream.removeAllListeners("data");
  stream.resume();
  const timer = setTimeout(() => {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  }, UPLOAD_STOP_DELAY_MS);
  timer.unref();
  stream.once("close", () => clearTimeout(timer));
}

/**
 * The status as gRPC trailers carry it, set by connect-es's own setTrailerStatus (grpc-status,
 * grpc-message, grpc-status-details-bin, the error's metadata such as retry-after hints), with
 * grpc-message encoded the gRPC spec's way as every other answer of this server is.
 */
function statusFields(error: ConnectError | undefined, trailers = new Headers()): Record<string, string> {
  const fields: Record<string, string> = {};
  setTrailerStatus(trailers, error).forEach((value, key) => (fields[key] = value));
  if (error) fields["grpc-message"] = encodeGrpcMessage(error.rawMessage);
  return fields;
}

/**
 * node:http2 keeps the headers a stream responded with (`stream.sentHeaders`, a
 * null-prototype object in dictionary mode: ~0.3 KB of heap for every open stream) only to
 * show them through that getter, which nothing here reads. Dropped once sent. Found by its
 * symbol's description (Node 20–24 name it "sent-headers"); a Node that names it otherwise
 * keeps its headers, nothing else changes.
 */
export function forgetSentHeaders(stream: http2.ServerHttp2Stream): void {
  if (sentHeadersKey === null) return;
  if (sentHeadersKey === undefined) {
    sentHeadersKey = Object.getOwnPropertySymbols(stream).find((key) => key.description === "sent-headers") ?? null;
    if (sentHeadersKey === null) return;
  }
  (stream as unknown as Record<symbol, unknown>)[sentHeadersKey] = undefined;
}

/** The stream's own key for its sent headers: undefined until looked for, null when this Node has none. */
let sentHeadersKey: symbol | null | undefined;
