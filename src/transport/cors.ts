import type http from "node:http";
import type http2 from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Request headers a browser page may send: connect-es's list for Connect, gRPC-Web and gRPC
 * (content type, protocol version, timeouts, x-grpc-web, x-user-agent…) plus Cyphr's bearer token.
 */
export const CORS_ALLOWED_HEADERS: readonly string[] = [...connectCors.allowedHeaders, "Authorization"].map((h) => h.toLowerCase());
/**
 * Response headers a page may read: connect-es's list (grpc-status, grpc-message,
 * grpc-status-details-bin, the Connect encodings) plus the retry hints of RESOURCE_EXHAUSTED.
 */
export const CORS_EXPOSED_HEADERS: readonly string[] = [...connectCors.exposedHeaders, "Retry-After", "Retry-After-Ms"].map((h) => h.toLowerCase());
/** Methods the protocols use (POST, and GET for Connect's cacheable unary calls). */
export const CORS_ALLOWED_METHODS: readonly string[] = connectCors.allowedMethods;
/** How long a browser may cache a preflight answer, in seconds (Chromium caps it at 7200). */
export const CORS_MAX_AGE_SECONDS = 7200;

export interface CorsPolicy {
  /** True when `origin` is one of the configured origins (exact match of scheme, host and port). */
  allows(origin: string | undefined): boolean;
  /**
   * Decorates the response for a listed origin and answers preflights. Returns true when the
   * request was answered here (a preflight), false when it goes on to the handler.
   */
  handle(req: NodeRequest, res: NodeResponse): boolean;
}

/**
 * CORS for the whole port (API paths and the web app alike). With no origins configured the
 * server is same-origin only: no response carries CORS headers and every preflight is refused.
 * Origins not listed get no CORS headers, so the browser refuses the page's call.
 */
export function corsPolicy(allowedOrigins: readonly string[]): CorsPolicy {
  const origins = new Set(allowedOrigins);
  const allows = (origin: string | undefined) => origin !== undefined && origins.has(origin);
  return {
    allows,
    handle(req, res) {
      const origin = header(req, "origin");
      const preflight = req.method === "OPTIONS" && header(req, "access-control-request-method") !== undefined;
      if (origins.size > 0) res.setHeader("vary", "Origin");
      if (!allows(origin)) {
        if (!preflight) return false;
        res.writeHead(403, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
        res.end("origin not allowed: add it to CORS_ALLOWED_ORIGINS\n");
        return true;
      }
      res.setHeader("access-control-allow-origin", origin!);
      if (!preflight) {
        res.setHeader("access-control-expose-headers", CORS_EXPOSED_HEADERS.join(", "));
        return false;
      }
      res.writeHead(204, {
        "access-control-allow-methods": CORS_ALLOWED_METHODS.join(", "),
        "access-control-allow-headers": CORS_ALLOWED_HEADERS.join(", "),
        "access-control-max-age": String(CORS_MAX_AGE_SECONDS),
        "cache-control": "no-store",
      });
      res.end();
      return true;
    },
  };
}

function header(req: NodeRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
