import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/**
 * Read access to a validated bootstrap in canonical proto JSON (snake_case names, defaults
 * omitted, durations as "<seconds>s", Any as an object with "@type"), plus the pieces the
 * semantic checks look at.
 */

export const TYPE = {
  tls: "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  hcm: "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  cors: "envoy.extensions.filters.http.cors.v3.Cors",
  corsPolicy: "envoy.extensions.filters.http.cors.v3.CorsPolicy",
  grpcWeb: "envoy.extensions.filters.http.grpc_web.v3.GrpcWeb",
  localRateLimit: "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
  router: "envoy.extensions.filters.http.router.v3.Router",
  httpProtocolOptions: "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
} as const;

type J = JsonValue | undefined;

export function obj(value: J): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
}

export function list(value: J): JsonObject[] {
  return Array.isArray(value) ? value.map(obj) : [];
}

export function str(value: J): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Numbers, including 64-bit ones that proto JSON writes as strings. */
export function num(value: J): number | undefined {
  if (typeof value === "number") return value;
  return typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : undefined;
}

/** Milliseconds of a proto JSON duration ("90s", "0.500s"); undefined when unset. */
export function durationMs(value: J): number | undefined {
  const match = typeof value === "string" ? /^(-?\d+(?:\.\d+)?)s$/.exec(value) : null;
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

/** A number (or duration in ms) that is set and above zero. */
export function isPositive(value: number | undefined): boolean {
  return value !== undefined && value > 0;
}

/** The message type inside an Any ("envoy.….Type"). */
export function typeOf(any: J): string | undefined {
  const url = str(obj(any)["@type"]);
  return url?.slice(url.lastIndexOf("/") + 1);
}

/** A FractionalPercent as a fraction of 1 (100/HUNDRED = 1). */
export function fraction(percent: J): number {
  const p = obj(percent);
  const denominators: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };
  return (num(p.numerator) ?? 0) / denominators[str(p.denominator) ?? "HUNDRED"]!;
}

export interface FilterChain {
  listener: JsonObject;
  chain: JsonObject;
  /** The chain's DownstreamTlsContext, if its transport socket is TLS. */
  tls: JsonObject | undefined;
  /** The chain's HttpConnectionManager, if it has one. */
  hcm: JsonObject | undefined;
}

export function filterChains(bootstrap: JsonObject): FilterChain[] {
  return list(obj(bootstrap.static_resources).listeners).flatMap((listener) =>
    list(listener.filter_chains).map((chain) => {
      const socket = obj(obj(chain.transport_socket).typed_config);
      const hcm = list(chain.filters)
        .map((f) => obj(f.typed_config))
        .find((config) => typeOf(config) === TYPE.hcm);
      return { listener, chain, tls: typeOf(socket) === TYPE.tls ? socket : undefined, hcm };
    }),
  );
}

export function clusters(bootstrap: JsonObject): Map<string, JsonObject> {
  return new Map(list(obj(bootstrap.static_resources).clusters).map((c) => [str(c.name) ?? "", c]));
}

/** The cluster's upstream HttpProtocolOptions, if set. */
export function upstreamHttpOptions(cluster: JsonObject): JsonObject | undefined {
  const options = Object.values(obj(cluster.typed_extension_protocol_options)).find((o) => typeOf(o) === TYPE.httpProtocolOptions);
  return options === undefined ? undefined : obj(options);
}

/** Name of the HTTP filter of `type` in an HCM (the key its per-route configuration uses). */
export function httpFilterName(hcm: JsonObject, type: string): string | undefined {
  return str(list(hcm.http_filters).find((f) => typeOf(f.typed_config) === type)?.name);
}
