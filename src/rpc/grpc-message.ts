import type http from "node:http";
import type http2 from "node:http2";

type Headers = Record<string, string | string[] | number | undefined>;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * connect-node percent-encodes `grpc-message` with encodeURIComponent, so "," ":" ";" "/"
 * arrive as %2C %3A %3B %2F. The gRPC spec asks only for bytes outside 0x20–0x7E and "%"
 * to be encoded, and some clients (grpc-js decodes with decodeURI) show the rest
 * literally. Re-encode the message the spec's way on its way out, so every client reads
 * the same text.
 */
export function specEncodeGrpcMessage(res: Response): void {
  const target = res as unknown as {
    writeHead(status: number, headers?: Headers): unknown;
    addTrailers(headers: Headers): void;
  };
  const writeHead = target.writeHead.bind(target);
  const addTrailers = target.addTrailers.bind(target);
  target.writeHead = (status, headers) => writeHead(status, headers && reencode(headers));
  target.addTrailers = (headers) => addTrailers(reencode(headers));
}

function reencode(headers: Headers): Headers {
  const value = headers["grpc-message"];
  if (typeof value !== "string") return headers;
  let text: string;
  try {
    text = decodeURIComponent(value);
  } catch {
    return headers;
  }
  let encoded = "";
  for (const byte of Buffer.from(text, "utf8")) {
    encoded += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(byte);
  }
  return { ...headers, "grpc-message": encoded };
}
