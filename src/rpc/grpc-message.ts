import type http from "node:http";
import type http2 from "node:http2";

type Headers = Record<string, string | string[] | number | undefined>;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Longest status message sent in `grpc-message`, in characters. Messages quote caller input
 * only through src/shared/quote.ts; this is the safety net that keeps any status small enough
 * for one header block, so a client always hears it instead of a reset stream.
 */
export const GRPC_MESSAGE_MAX_CHARS = 1024;

/**
 * Rewrites the status headers and trailers a response sends, and reports its grpc-status:
 *
 * connect-node percent-encodes `grpc-message` with encodeURIComponent, so "," ":" ";" "/"
 * arrive as %2C %3A %3B %2F. The gRPC spec asks only for bytes outside 0x20–0x7E and "%"
 * to be encoded, and some clients (grpc-js decodes with decodeURI) show the rest
 * literally. Re-encode the message the spec's way on its way out, so every client reads
 * the same text, and cut it to GRPC_MESSAGE_MAX_CHARS.
 */
export function specEncodeGrpcMessage(res: Response, onStatus?: (grpcStatus: number) => void): void {
  const target = res as unknown as {
    writeHead(status: number, headers?: Headers): unknown;
    addTrailers(headers: Headers): void;
  };
  const writeHead = target.writeHead.bind(target);
  const addTrailers = target.addTrailers.bind(target);
  const rewrite = (headers: Headers): Headers => {
    const status = headers["grpc-status"];
    if (onStatus && status !== undefined && /^\d+$/.test(String(status))) onStatus(Number(status));
    return reencode(headers);
  };
  target.writeHead = (status, headers) => writeHead(status, headers && rewrite(headers));
  target.addTrailers = (headers) => addTrailers(rewrite(headers));
}

function reencode(headers: Headers): Headers {
  const value = headers["grpc-message"];
  if (typeof value !== "string") return headers;
  let text: string;
  try {
    text = decodeURIComponent(value);
  } catch {
    return { ...headers, "grpc-message": value.slice(0, GRPC_MESSAGE_MAX_CHARS) };
  }
  return { ...headers, "grpc-message": encodeGrpcMessage(text) };
}

/** A status message as `grpc-message` carries it: cut to GRPC_MESSAGE_MAX_CHARS, percent-encoded the gRPC spec's way. */
export function encodeGrpcMessage(message: string): string {
  const text = message.length > GRPC_MESSAGE_MAX_CHARS ? `${message.slice(0, GRPC_MESSAGE_MAX_CHARS - 1)}…` : message;
  let encoded = "";
  for (const byte of Buffer.from(text, "utf8")) {
    encoded += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(byte);
  }
  return encoded;
}
