import { type DescMethod, fromBinary, fromJsonString, type MessageShape } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";

/** How a unary request carries its message. */
export type UnaryWire = "enveloped" | "enveloped-json" | "connect-proto" | "connect-json" | "connect-get";

const COMPRESSIONS = [compressionGzip, compressionBrotli];
const REASON_MAX_CHARS = 200;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The wire of a unary call, or undefined for anything else (streams, unknown content types: connect-es answers those). */
export function unaryWire(method: DescMethod, req: UniversalServerRequest): UnaryWire | undefined {
  if (method.methodKind !== "unary") return undefined;
  if (req.method === "GET") return "connect-get";
  const contentType = (req.header.get("content-type") ?? "").toLowerCase();
  const grpc = /^application\/grpc(?:-web)?(?:\+(proto|json))?\s*(?:;|$)/.exec(contentType);
  if (grpc) return grpc[1] === "json" ? "enveloped-json" : "enveloped";
  const connect = /^application\/(proto|json)\s*(?:;|$)/.exec(contentType);
  if (connect) return connect[1] === "json" ? "connect-json" : "connect-proto";
  return undefined;
}

/**
 * Decodes a unary request message the way connect-es will, and returns the problem if it
 * does not decode: INVALID_ARGUMENT with what is wrong. Framing and compression problems that
 * connect-es itself reports with a fitting code (an incomplete envelope, an unknown encoding)
 * are left to it: this returns undefined for those, as for a message that decodes.
 */
export async function decodeUnaryMessage(
  method: DescMethod,
  req: UniversalServerRequest,
  wire: UnaryWire,
  body: Uint8Array,
  readMaxBytes: number,
): Promise<ConnectError | undefined> {
  let bytes: Uint8Array;
  let json: boolean;
  let encoding: string | null;
  if (wire === "connect-get") {
    const query = new URL(req.url).searchParams;
    const message = query.get("message") ?? "";
    json = query.get("encoding") === "json";
    encoding = query.get("compression");
    if (query.get("base64") === "1") {
      try {
        bytes = base64Decode(message);
      } catch {
        return new ConnectError("the message query parameter is not valid base64", Code.InvalidArgument);
      }
    } else {
      bytes = new TextEncoder().encode(message);
    }
  } else if (wire === "enveloped" || wire === "enveloped-json") {
    const envelope = singleEnvelope(body);
    if (!envelope) return undefined;
    json = wire === "enveloped-json";
    encoding = envelope.compressed ? req.header.get("grpc-encoding") : null;
    bytes = envelope.data;
  } else {
    json = wire === "connect-json";
    encoding = req.header.get("content-encoding");
    bytes = body;
  }
  if (encoding !== null && encoding !== "identity") {
    const compression = COMPRESSIONS.find((c) => c.name === encoding);
    if (!compression) return undefined;
    try {
      bytes = await compression.decompress(bytes, readMaxBytes);
    } catch (error) {
      const e = ConnectError.from(error);
      return e.code === Code.ResourceExhausted ? e : new ConnectError(`the request message does not decompress as ${encoding}`, Code.InvalidArgument);
    }
  }
  return parseProblem(method, bytes, json);
}

function parseProblem(method: DescMethod, bytes: Uint8Array, json: boolean): ConnectError | undefined {
  const what = `the request is not a valid ${method.input.typeName}`;
  if (json) {
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      return new ConnectError(`${what} in JSON: the body is not valid UTF-8`, Code.InvalidArgument);
    }
    try {
      fromJsonString(method.input, text, { ignoreUnknownFields: true });
    } catch (error) {
      return new ConnectError(`${what} in JSON: ${reason(error)}`, Code.InvalidArgument);
    }
    return undefined;
  }
  const parsed = parseBinaryRequest(method, bytes);
  return parsed instanceof ConnectError ? parsed : undefined;
}

/** A binary request message of `method`, or INVALID_ARGUMENT naming what is wrong with it. */
export function parseBinaryRequest<M extends DescMethod>(method: M, bytes: Uint8Array): MessageShape<M["input"]> | ConnectError {
  try {
    return fromBinary(method.input, bytes) as MessageShape<M["input"]>;
  } catch (error) {
    return new ConnectError(`the request is not a valid ${method.input.typeName}: ${reason(error)}`, Code.InvalidArgument);
  }
}

/** The decoder's own words, cut short: they can repeat part of the input. */
function reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > REASON_MAX_CHARS ? `${text.slice(0, REASON_MAX_CHARS)}…` : text;
}

/** The one message of a well-framed enveloped body, or undefined (connect-es reports bad framing itself). */
function singleEnvelope(body: Uint8Array): { compressed: boolean; data: Uint8Array } | undefined {
  if (body.byteLength < 5) return undefined;
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
  if (body.byteLength !== 5 + length) return undefined;
  return { compressed: (body[0]! & 0x01) === 0x01, data: body.subarray(5) };
}
