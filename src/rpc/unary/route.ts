import type http2 from "node:http2";
import { binaryProtocolOf } from "../../realtime/h2/protocol.js";
import type { UnaryMethodSpec, UnaryMethods } from "./methods.js";

/** How a unary call the fast path serves is framed: gRPC and gRPC-Web enveloped, Connect as a bare body. */
export type UnaryProtocol = "grpc" | "grpc-web" | "connect";

export interface UnaryRoute {
  spec: UnaryMethodSpec;
  protocol: UnaryProtocol;
}

/**
 * The route of a request the unary fast path serves: POST to a unary method, binary protobuf
 * (gRPC, gRPC-Web binary, Connect `application/proto`), an uncompressed request, an
 * :authority. Everything else (JSON, gRPC-Web text, compressed requests, Connect GET) is left
 * to connect-es, which serves every form.
 */
export function unaryRouteOf(methods: UnaryMethods, headers: http2.IncomingHttpHeaders): UnaryRoute | undefined {
  if (headers[":method"] !== "POST" || headers[":authority"] === undefined) return undefined;
  const spec = methods.get(headers[":path"] ?? "");
  if (!spec) return undefined;
  const protocol = binaryProtocolOf(headers["content-type"], "application/proto");
  if (!protocol) return undefined;
  const encoding = protocol === "connect" ? headers["content-encoding"] : headers["grpc-encoding"];
  if (encoding !== undefined && encoding !== "identity") return undefined;
  return { spec, protocol };
}
