import http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { EnvelopeReader } from "../realtime/h2/envelopes.js";

/** How a gRPC call ended: its status code (Code numbers) and message. */
export interface CallStatus {
  code: number;
  message: string;
}

/** Largest response message the load generator accepts (the server's own frames are far smaller). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Connection-level receive window: thousands of streams' frames in flight at once must not wait for WINDOW_UPDATEs. */
const CONNECTION_WINDOW_BYTES = 64 * 1024 * 1024;

const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_TE, HTTP2_HEADER_AUTHORIZATION } = http2.constants;

/**
 * One HTTP/2 connection speaking gRPC by hand on node:http2's core client streams: 5-byte
 * envelopes, status from the trailers (or a trailers-only answer). The load generator's hot
 * paths use it instead of connect-es's async-iterable client pipeline, which cost ~0.24 ms of
 * CPU per message (docs/benchmarks.md); connect-es stays for setup calls, where cost does not matter.
 */
export class H2Connection {
  private readonly session: http2.ClientHttp2Session;
  /** Why the connection failed, once it did. */
  failure: Error | undefined;

  constructor(baseUrl: string) {
    // The client's session memory cap (10 MB by default) must not be what limits a load generator.
    this.session = http2.connect(baseUrl, { maxSessionMemory: 1024, settings: { enablePush: false } });
    this.session.on("error", (error) => (this.failure = error));
    this.session.once("connect", () => this.session.setLocalWindowSize(CONNECTION_WINDOW_BYTES));
  }

  /**
   * Starts a call of `path` (e.g. /cyphr.messaging.v1.MessagingService/SendMessage) with a
   * bearer token; every response message goes to `onMessage` as its protobuf bytes.
   */
  call(path: string, token: string, onMessage: (data: Uint8Array) => void, timeoutMs?: number): GrpcCall {
    const headers: http2.OutgoingHttpHeaders = {
      [HTTP2_HEADER_METHOD]: "POST",
      [HTTP2_HEADER_PATH]: path,
      [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
      [HTTP2_HEADER_TE]: "trailers",
      [HTTP2_HEADER_AUTHORIZATION]: `Bearer ${token}`,
    };
    if (timeoutMs !== undefined) headers["grpc-timeout"] = `${Math.max(1, Math.ceil(timeoutMs))}m`;
    return new GrpcCall(this.session.request(headers), onMessage);
  }

  close(): void {
    this.session.close();
  }

  /** Ends the connection and every call on it at once. */
  destroy(): void {
    this.session.destroy();
  }
}

/** One gRPC call on an H2Connection: write request messages, read response messages, then its status. */
export class GrpcCall {
  /** Resolves once with the call's status: from the trailers, or UNAVAILABLE/CANCELLED when the stream broke. */
  readonly status: Promise<CallStatus>;
  private readonly reader = new EnvelopeReader(MAX_MESSAGE_BYTES);

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    onMessage: (data: Uint8Array) => void,
  ) {
    let settle!: (s: CallStatus) => void;
    let settled = false;
    this.status = new Promise((resolve) => (settle = resolve));
    const finish = (s: CallStatus) => {
      if (settled) return;
      settled = true;
      settle(s);
    };
    const fromHeaders = (h: http2.IncomingHttpHeaders) => {
      const code = h["grpc-status"];
      if (code === undefined) return false;
      finish({ code: Number(code), message: decodeGrpcMessage(h["grpc-message"]) });
      return true;
    };
    stream.on("response", (h) => {
      // A trailers-only answer carries the status in the headers.
      if (!fromHeaders(h) && h[":status"] !== 200) finish({ code: Code.Unknown, message: `HTTP ${String(h[":status"])}` });
    });
    stream.on("trailers", fromHeaders);
    stream.on("data", (chunk: Buffer) => {
      try {
        for (const e of this.reader.push(chunk)) onMessage(e.data);
      } catch (error) {
        finish({ code: Code.ResourceExhausted, message: (error as Error).message });
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    });
    stream.on("error", (error) => finish({ code: Code.Unavailable, message: error.message }));
    stream.on("close", () =>
      finish(
        stream.rstCode === http2.constants.NGHTTP2_CANCEL
          ? { code: Code.Canceled, message: "stream cancelled" }
          : { code: Code.Unavailable, message: `stream closed without a status (HTTP/2 code ${stream.rstCode})` },
      ),
    );
  }

  /** Sends one request message, already enveloped (frame-codec.ts). */
  write(enveloped: Uint8Array): void {
    if (this.stream.writable) this.stream.write(enveloped);
  }

  /** Sends one enveloped request message and half-closes: the shape of a unary call. */
  end(enveloped: Uint8Array): void {
    this.stream.end(enveloped);
  }

  /** Cancels the call (RST_STREAM CANCEL): the way a client goes away. */
  cancel(): void {
    if (!this.stream.closed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec). */
function decodeGrpcMessage(raw: string | string[] | undefined): string {
  const text = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
