import type { JsonObject } from "@bufbuild/protobuf";
import { clusters, durationMs, type FilterChain, filterChains, isPositive, list, num, obj, str, TYPE, typeOf, upstreamHttpOptions } from "./envoy-model.js";
import { checkRoutes, type EdgeExpectations } from "./envoy-route-rules.js";

export type { EdgeExpectations } from "./envoy-route-rules.js";

/** Every property of the edge the tests assert, each with its own negative test. */
export const RULES = [
  "tls-1.3",
  "alpn",
  "filter-order",
  "edge-http",
  "stream-routes",
  "unary-routes",
  "cors",
  "rate-limit",
  "circuit-breakers",
  "health-check",
  "outlier-detection",
  "access-log",
  "admin",
] as const;
export type Rule = (typeof RULES)[number];

export interface Problem {
  rule: Rule;
  message: string;
}

/** Fewest concurrent requests (open streams included) the upstream circuit breaker must allow. */
export const MIN_CONCURRENT_REQUESTS = 10_000;
const MIB = 1024 * 1024;
const FILTER_ORDER = [TYPE.cors, TYPE.grpcWeb, TYPE.localRateLimit, TYPE.router];
/** Access log commands that would write client addresses, credentials or query strings (request data in Connect GET). */
const PRIVATE_LOG_FIELDS = /DOWNSTREAM_(DIRECT_)?REMOTE_ADDRESS|X-FORWARDED-FOR|X-REAL-IP|AUTHORIZATION|%REQ\(:PATH\)%|%REQ\(X-ENVOY-ORIGINAL-PATH/i;

/** Checks a validated bootstrap (canonical proto JSON) against the edge's requirements. */
export function checkEdge(bootstrap: JsonObject, expect: EdgeExpectations): Problem[] {
  const problems: Problem[] = [];
  const report = (rule: Rule) => (message: string) => problems.push({ rule, message });
  const chains = filterChains(bootstrap);
  if (chains.length === 0) report("tls-1.3")("no listener filter chain");
  for (const chain of chains) {
    const where = `listener "${str(chain.listener.name)}"`;
    checkTls(chain, where, report("tls-1.3"), report("alpn"));
    if (!chain.hcm) {
      report("filter-order")(`${where}: no HTTP connection manager`);
      continue;
    }
    const types = list(chain.hcm.http_filters).map((f) => typeOf(f.typed_config) ?? str(f.name));
    if (JSON.stringify(types) !== JSON.stringify(FILTER_ORDER)) {
      report("filter-order")(`${where}: HTTP filters are ${types.join(", ")}; want ${FILTER_ORDER.join(", ")}`);
    }
    checkEdgeHttp(chain, where, report("edge-http"));
    checkAccessLog(chain.hcm, where, report("access-log"));
  }
  const used = checkRoutes(chains, clusters(bootstrap), expect, report);
  for (const name of used) checkCluster(clusters(bootstrap).get(name)!, `cluster "${name}"`, report);
  const admin = str(obj(obj(obj(bootstrap.admin).address).socket_address).address);
  if (admin !== undefined && !["127.0.0.1", "::1"].includes(admin)) {
    report("admin")(`admin interface listens on ${admin}; keep it on loopback`);
  }
  // Route checks run once per RPC path; the same finding on several paths is reported once.
  return problems.filter((p, i) => problems.findIndex((q) => q.rule === p.rule && q.message === p.message) === i);
}

function checkTls(chain: FilterChain, where: string, tls: (m: string) => void, alpn: (m: string) => void): void {
  if (!chain.tls) return tls(`${where}: a filter chain without TLS`);
  const common = obj(chain.tls.common_tls_context);
  const params = obj(common.tls_params);
  const min = str(params.tls_minimum_protocol_version);
  if (min !== "TLSv1_3") tls(`${where}: tls_minimum_protocol_version is ${min ?? "unset (TLSv1_2)"}; want TLSv1_3`);
  const max = str(params.tls_maximum_protocol_version);
  if (max !== undefined && max !== "TLSv1_3") tls(`${where}: tls_maximum_protocol_version is ${max}`);
  const certificates = list(common.tls_certificates);
  if (certificates.length === 0) tls(`${where}: no certificate`);
  for (const c of certificates) {
    const fromFiles = str(obj(c.certificate_chain).filename) && str(obj(c.private_key).filename);
    if (!fromFiles) tls(`${where}: certificate and key must be read from files`);
  }
  const protocols = (common.alpn_protocols ?? []) as string[];
  for (const want of ["h2", "http/1.1"]) if (!protocols.includes(want)) alpn(`${where}: ALPN ${JSON.stringify(protocols)} lacks ${want}`);
}

function checkEdgeHttp({ listener, hcm }: FilterChain, where: string, fail: (m: string) => void): void {
  const h = hcm!;
  if (h.use_remote_address !== true) fail(`${where}: use_remote_address is not true (client addresses would come from X-Forwarded-For)`);
  const common = obj(h.common_http_protocol_options);
  if (common.headers_with_underscores_action !== "REJECT_REQUEST") fail(`${where}: headers_with_underscores_action is not REJECT_REQUEST`);
  if (!isPositive(durationMs(h.request_headers_timeout))) fail(`${where}: no request_headers_timeout`);
  const h2 = obj(h.http2_protocol_options);
  const limits: [string, number | undefined, number][] = [
    ["http2_protocol_options.max_concurrent_streams", num(h2.max_concurrent_streams), 1000],
    ["http2_protocol_options.initial_stream_window_size", num(h2.initial_stream_window_size), MIB],
    ["http2_protocol_options.initial_connection_window_size", num(h2.initial_connection_window_size), 16 * MIB],
    ["per_connection_buffer_limit_bytes", num(listener.per_connection_buffer_limit_bytes), MIB],
  ];
  for (const [name, value, max] of limits) {
    if (value === undefined || value > max) {
      fail(`${where}: ${name} is ${value ?? "unset (Envoy's default is meant for trusted peers)"}; want at most ${max}`);
    }
  }
  const keepalive = obj(h2.connection_keepalive);
  if (!(isPositive(durationMs(keepalive.interval)) && isPositive(durationMs(keepalive.timeout)))) {
    fail(`${where}: no HTTP/2 keepalive (connection_keepalive interval and timeout)`);
  }
}

function checkAccessLog(hcm: JsonObject, where: string, fail: (m: string) => void): void {
  for (const log of list(hcm.access_log)) {
    const format = obj(obj(log.typed_config).log_format);
    if (Object.keys(format).length === 0) {
      fail(`${where}: access log "${str(log.name)}" uses Envoy's default format, which logs X-Forwarded-For`);
    }
    const leaked = JSON.stringify(format).match(PRIVATE_LOG_FIELDS);
    if (leaked) fail(`${where}: access log "${str(log.name)}" writes ${leaked[0]}`);
  }
}

function checkCluster(cluster: JsonObject, where: string, report: (rule: Rule) => (m: string) => void): void {
  const thresholds = list(obj(cluster.circuit_breakers).thresholds).find((t) => (str(t.priority) ?? "DEFAULT") === "DEFAULT");
  const breaker = report("circuit-breakers");
  if (!thresholds) {
    breaker(`${where}: no circuit breaker thresholds for DEFAULT priority (Envoy's default allows 1024 requests, open streams included)`);
  } else {
    const maxRequests = num(thresholds.max_requests);
    if (maxRequests === undefined || maxRequests < MIN_CONCURRENT_REQUESTS) {
      breaker(`${where}: max_requests is ${maxRequests ?? "unset (1024)"}; want at least ${MIN_CONCURRENT_REQUESTS}`);
    }
    for (const key of ["max_connections", "max_pending_requests"]) {
      if (num(thresholds[key]) === undefined) breaker(`${where}: ${key} unset (1024)`);
    }
  }
  const health = report("health-check");
  const http = upstreamHttpOptions(cluster);
  if (!http || !("http2_protocol_options" in obj(http.explicit_http_config))) health(`${where}: upstream is not HTTP/2 (h2c), which gRPC needs`);
  const grpc = list(cluster.health_checks).filter((h) => "grpc_health_check" in h);
  if (grpc.length === 0) health(`${where}: no gRPC health check (grpc.health.v1)`);
  for (const h of grpc) {
    if (!(isPositive(durationMs(h.timeout)) && isPositive(durationMs(h.interval)))) health(`${where}: health check needs a timeout and an interval`);
  }
  const outlier = cluster.outlier_detection === undefined ? undefined : obj(cluster.outlier_detection);
  const percent = num(outlier?.max_ejection_percent);
  const ejection = report("outlier-detection");
  if (!outlier) return ejection(`${where}: no outlier detection`);
  if (percent === undefined || percent > 50) ejection(`${where}: max_ejection_percent is ${percent ?? "unset (10)"}; want at most 50`);
  // Detectors eject only as often as their enforcing percentage says: consecutive 5xx
  // defaults to 100%, consecutive gateway failures to 0% (counted, never ejected).
  const enforced5xx = (num(outlier.enforcing_consecutive_5xx) ?? 100) > 0;
  const enforcedGateway = (num(outlier.enforcing_consecutive_gateway_failure) ?? 0) > 0;
  if (!enforced5xx && !enforcedGateway) ejection(`${where}: outlier detection counts errors but never ejects (enforcing_* at 0%)`);
}
