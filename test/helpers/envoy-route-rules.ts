import type { JsonObject } from "@bufbuild/protobuf";
import { CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS, CORS_EXPOSED_HEADERS } from "../../src/transport/cors.js";
import { durationMs, type FilterChain, fraction, httpFilterName, isPositive, list, num, obj, str, TYPE, typeOf, upstreamHttpOptions } from "./envoy-model.js";
import { perFilterConfig, reachableRoutes } from "./envoy-routes.js";
import type { Rule } from "./envoy-semantics.js";

export interface EdgeExpectations {
  /** The server's in-stream heartbeat interval; stream idle timeouts must be at least twice this. */
  heartbeatMs: number;
  /**
   * Every RPC the upstream serves, as `/package.Service/Method`, whether it streams, and for a
   * unary call that may take long, the shortest route timeout it needs.
   */
  methods: { path: string; streaming: boolean; minTimeoutMs?: number }[];
}

// Envoy's CORS policy must let through what the server's own CORS does (one source: src/transport/cors.ts).
const CORS_ALLOW_HEADERS = CORS_ALLOWED_HEADERS;
const CORS_EXPOSE_HEADERS = CORS_EXPOSED_HEADERS;
/** Origins an allow-list must never accept ("*" because Envoy treats a matcher accepting "*" as a wildcard). */
const FOREIGN_ORIGINS = ["*", "https://attacker.example", "null"];

type Report = (rule: Rule) => (message: string) => void;

/**
 * Follows every RPC path through every virtual host to the routes it can reach and checks
 * them: timeouts (streams and unary calls), CORS and rate limits. Returns the clusters the
 * routes send to.
 */
export function checkRoutes(chains: FilterChain[], clusters: Map<string, JsonObject>, expect: EdgeExpectations, report: Report): Set<string> {
  const used = new Set<string>();
  for (const { hcm } of chains) {
    if (!hcm) continue;
    if (!hcm.route_config) {
      report("stream-routes")("routes must be inline (route_config) in a static bootstrap");
      continue;
    }
    checkConnectionLimits(hcm, clusters, expect, report("stream-routes"));
    const corsFilter = httpFilterName(hcm, TYPE.cors);
    const limitFilter = httpFilterName(hcm, TYPE.localRateLimit);
    if (!corsFilter) report("cors")("no CORS filter in the HTTP filter chain");
    if (!limitFilter) report("rate-limit")("no local rate limit filter in the HTTP filter chain: per-route buckets would limit nothing");
    const routeConfig = obj(hcm.route_config);
    for (const vhost of list(routeConfig.virtual_hosts)) {
      for (const { path, streaming, minTimeoutMs } of expect.methods) {
        const rule = streaming ? "stream-routes" : "unary-routes";
        const reached = reachableRoutes(vhost, path, (label) => report(rule)(`${label}: path matcher the check cannot evaluate`));
        if (reached.length === 0) report(rule)(`${path} matches no route`);
        for (const { route, label } of reached) {
          const where = `${path} → ${label}`;
          const action = obj(route.route);
          const cluster = str(action.cluster);
          if (!cluster || !clusters.has(cluster)) {
            report(rule)(`${where}: does not route to a defined cluster`);
            continue;
          }
          used.add(cluster);
          if (streaming) checkStreamRoute(action, where, expect.heartbeatMs, report(rule));
          else if (!isPositive(durationMs(action.timeout))) {
            report(rule)(`${where}: unary route needs an explicit finite timeout, got ${str(action.timeout) ?? "unset"}`);
          } else if (minTimeoutMs !== undefined && durationMs(action.timeout)! < minTimeoutMs) {
            report(rule)(`${where}: route timeout ${str(action.timeout)} is below the ${minTimeoutMs / 1000}s this call needs`);
          }
          if (corsFilter) checkCors(perFilterConfig(corsFilter, route, vhost, routeConfig), where, report("cors"));
          if (limitFilter) checkRateLimit(perFilterConfig(limitFilter, route, vhost, routeConfig), where, report("rate-limit"));
        }
      }
    }
  }
  return used;
}

function checkStreamRoute(action: JsonObject, where: string, heartbeatMs: number, fail: (m: string) => void): void {
  if (durationMs(action.timeout) !== 0) {
    fail(`${where}: route timeout is ${str(action.timeout) ?? "unset (Envoy's default 15s)"}; streams need 0s`);
  }
  const idle = durationMs(action.idle_timeout);
  if (idle === undefined) {
    fail(`${where}: no route idle_timeout (the connection manager's stream_idle_timeout, 5 min by default, would apply)`);
  } else if (idle < 2 * heartbeatMs) {
    const heartbeat = `${heartbeatMs / 1000}s`;
    fail(`${where}: idle_timeout ${str(action.idle_timeout)} is not comfortably above the ${heartbeat} heartbeat (want ≥ 2 × ${heartbeat})`);
  }
  if (isPositive(durationMs(obj(action.max_stream_duration).max_stream_duration))) fail(`${where}: max_stream_duration ends streams`);
}

/** Connection-manager and upstream settings that end streams whatever the route says. */
function checkConnectionLimits(hcm: JsonObject, clusters: Map<string, JsonObject>, expect: EdgeExpectations, fail: (m: string) => void): void {
  if (!expect.methods.some((m) => m.streaming)) return;
  const cutters: [string, unknown][] = [
    ["request_timeout", hcm.request_timeout],
    ["common_http_protocol_options.max_stream_duration", obj(hcm.common_http_protocol_options).max_stream_duration],
    ["common_http_protocol_options.max_connection_duration", obj(hcm.common_http_protocol_options).max_connection_duration],
  ];
  for (const [name, cluster] of clusters) {
    const common = obj(upstreamHttpOptions(cluster)?.common_http_protocol_options);
    cutters.push(
      [`cluster "${name}" max_stream_duration`, common.max_stream_duration],
      [`cluster "${name}" max_connection_duration`, common.max_connection_duration],
    );
  }
  for (const [name, value] of cutters) {
    if (isPositive(durationMs(value as string))) fail(`${name} is ${String(value)}: it ends long-lived streams`);
  }
}

function checkCors(policy: JsonObject | undefined, where: string, fail: (m: string) => void): void {
  if (!policy || typeOf(policy) !== TYPE.corsPolicy) return fail(`${where}: no CORS policy in typed_per_filter_config`);
  const matchers = list(policy.allow_origin_string_match);
  if (matchers.length === 0) fail(`${where}: no allowed origins`);
  for (const origin of FOREIGN_ORIGINS) if (matchers.some((m) => stringMatches(m, origin))) fail(`${where}: allowed origins accept ${origin}`);
  const headerList = (v: unknown) => (str(v as string) ?? "").split(",").map((h) => h.trim().toLowerCase());
  const allowed = headerList(policy.allow_headers);
  const exposed = headerList(policy.expose_headers);
  for (const h of CORS_ALLOW_HEADERS) if (!allowed.includes(h)) fail(`${where}: CORS allow_headers lacks ${h}`);
  for (const h of CORS_EXPOSE_HEADERS) if (!exposed.includes(h)) fail(`${where}: CORS expose_headers lacks ${h}`);
  const methods = headerList(policy.allow_methods);
  for (const m of CORS_ALLOWED_METHODS) if (!methods.includes(m.toLowerCase())) fail(`${where}: CORS allow_methods lacks ${m}`);
}

function checkRateLimit(config: JsonObject | undefined, where: string, fail: (m: string) => void): void {
  if (!config || typeOf(config) !== TYPE.localRateLimit) return fail(`${where}: no local rate limit in typed_per_filter_config`);
  const bucket = obj(config.token_bucket);
  if (!(isPositive(num(bucket.max_tokens)) && isPositive(durationMs(bucket.fill_interval)))) fail(`${where}: no token bucket`);
  if (fraction(obj(config.filter_enabled).default_value) < 1) fail(`${where}: filter_enabled below 100%`);
  if (fraction(obj(config.filter_enforced).default_value) < 1) fail(`${where}: filter_enforced below 100%`);
  if (config.rate_limited_as_resource_exhausted !== true) {
    fail(`${where}: rate-limited gRPC calls would get UNAVAILABLE, not RESOURCE_EXHAUSTED`);
  }
  if (config.local_rate_limit_per_downstream_connection !== true) {
    fail(`${where}: one bucket shared by every client (set local_rate_limit_per_downstream_connection)`);
  }
}

/** An envoy.type.matcher.v3.StringMatcher applied to `value`. */
function stringMatches(matcher: JsonObject, value: string): boolean {
  const fold = (s: string) => (matcher.ignore_case === true ? s.toLowerCase() : s);
  const v = fold(value);
  if (typeof matcher.exact === "string") return v === fold(matcher.exact);
  if (typeof matcher.prefix === "string") return v.startsWith(fold(matcher.prefix));
  if (typeof matcher.suffix === "string") return v.endsWith(fold(matcher.suffix));
  if (typeof matcher.contains === "string") return v.includes(fold(matcher.contains));
  const regex = str(obj(matcher.safe_regex).regex);
  if (regex !== undefined) return new RegExp(`^(?:${regex})$`, matcher.ignore_case === true ? "i" : "").test(value);
  return true; // unknown matcher kinds count as accepting anything
}
