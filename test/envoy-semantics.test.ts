import { describe, expect, test } from "vitest";
import { at, cyphrExpectations, type EnvoyYaml, editedConfig } from "./helpers/envoy-fixtures.js";
import { checkEdge, MIN_CONCURRENT_REQUESTS, type Problem, RULES, type Rule } from "./helpers/envoy-semantics.js";
import { readEnvoyYaml, validateBootstrap } from "./helpers/envoy-validate.js";

const expectations = cyphrExpectations();

/** Strict parse first (a broken copy must still be valid Envoy config), then the edge rules. */
function problems(config: unknown): Problem[] {
  return checkEdge(validateBootstrap(config), expectations);
}

function rulesBroken(config: unknown): Rule[] {
  return [...new Set(problems(config).map((p) => p.rule))];
}

describe("envoy/envoy.yaml meets the edge requirements", () => {
  test("every rule holds", () => {
    expect(problems(readEnvoyYaml())).toEqual([]);
  });

  test("the requirements come from the server: its streaming RPCs (Realtime Connect and Subscribe among them) and its heartbeat", () => {
    const streaming = expectations.methods.filter((m) => m.streaming).map((m) => m.path);
    expect(streaming).toEqual(expect.arrayContaining(["/cyphr.realtime.v1.RealtimeService/Connect", "/cyphr.realtime.v1.RealtimeService/Subscribe"]));
    expect(expectations.heartbeatMs).toBe(25_000);
  });

  test("the attachments' unary calls (CompleteUpload among them) need a longer timeout than other calls; their download streams", () => {
    const slow = expectations.methods.filter((m) => m.minTimeoutMs !== undefined).map((m) => m.path);
    expect(slow).toEqual(
      expect.arrayContaining(["/cyphr.attachments.v1.AttachmentsService/CompleteUpload", "/cyphr.attachments.v1.AttachmentsService/PutChunk"]),
    );
    expect(slow).not.toContain("/cyphr.attachments.v1.AttachmentsService/GetAttachment");
    expect(expectations.methods.find((m) => m.path.endsWith("/GetAttachment"))?.streaming).toBe(true);
  });
});

/** One broken setting per case, and the one rule that must catch it. */
const broken: [string, Rule, (c: EnvoyYaml) => void][] = [
  ["TLS 1.2 allowed", "tls-1.3", (c) => (at.tls(c).common_tls_context.tls_params.tls_minimum_protocol_version = "TLSv1_2")],
  ["no minimum TLS version (Envoy's default is 1.2)", "tls-1.3", (c) => delete at.tls(c).common_tls_context.tls_params],
  [
    "a certificate inline instead of from a file",
    "tls-1.3",
    (c) => (at.tls(c).common_tls_context.tls_certificates[0].certificate_chain = { inline_string: "-----BEGIN CERTIFICATE-----" }),
  ],
  ["ALPN without h2", "alpn", (c) => (at.tls(c).common_tls_context.alpn_protocols = ["http/1.1"])],
  [
    "gRPC-Web before CORS",
    "filter-order",
    (c) => {
      const filters = at.hcm(c).http_filters;
      [filters[0], filters[1]] = [filters[1], filters[0]];
    },
  ],
  [
    "the router before the rate limit",
    "filter-order",
    (c) => {
      const filters = at.hcm(c).http_filters;
      [filters[2], filters[3]] = [filters[3], filters[2]];
    },
  ],
  ["use_remote_address off", "edge-http", (c) => (at.hcm(c).use_remote_address = false)],
  ["headers with underscores allowed", "edge-http", (c) => (at.hcm(c).common_http_protocol_options.headers_with_underscores_action = "ALLOW")],
  ["no request headers timeout", "edge-http", (c) => delete at.hcm(c).request_headers_timeout],
  ["Envoy's default 256 MiB HTTP/2 stream window", "edge-http", (c) => delete at.hcm(c).http2_protocol_options.initial_stream_window_size],
  ["no HTTP/2 keepalive", "edge-http", (c) => delete at.hcm(c).http2_protocol_options.connection_keepalive],
  ["no connection buffer limit", "edge-http", (c) => delete at.listener(c).per_connection_buffer_limit_bytes],
  ["a stream route without timeout (Envoy's default 15 s)", "stream-routes", (c) => delete at.route(c, "realtime-connect").route.timeout],
  ["a stream route with a finite timeout", "stream-routes", (c) => (at.route(c, "realtime-subscribe").route.timeout = "3600s")],
  ["a stream idle timeout below twice the heartbeat", "stream-routes", (c) => (at.route(c, "realtime-connect").route.idle_timeout = "30s")],
  ["no stream idle timeout (the 5 min HCM default applies)", "stream-routes", (c) => delete at.route(c, "realtime-subscribe").route.idle_timeout],
  ["a max stream duration", "stream-routes", (c) => (at.route(c, "realtime-connect").route.max_stream_duration = { max_stream_duration: "3600s" })],
  ["a connection-manager request timeout", "stream-routes", (c) => (at.hcm(c).request_timeout = "300s")],
  ["a maximum connection duration", "stream-routes", (c) => (at.hcm(c).common_http_protocol_options.max_connection_duration = "3600s")],
  [
    "an upstream max stream duration",
    "stream-routes",
    (c) =>
      (at.cluster(c).typed_extension_protocol_options[
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
      ].common_http_protocol_options.max_stream_duration = "600s"),
  ],
  [
    "the Connect stream left to the unary route",
    "stream-routes",
    (c) => (at.vhost(c).routes = at.vhost(c).routes.filter((r: EnvoyYaml) => r.name !== "realtime-connect")),
  ],
  ["a unary route without timeout", "unary-routes", (c) => delete at.route(c, "unary").route.timeout],
  ["a unary route with timeout 0 (unbounded)", "unary-routes", (c) => (at.route(c, "unary").route.timeout = "0s")],
  [
    "the attachment calls left to the 30 s unary route",
    "unary-routes",
    (c) => (at.vhost(c).routes = at.vhost(c).routes.filter((r: EnvoyYaml) => r.name !== "attachments-unary")),
  ],
  ["an attachments timeout below what CompleteUpload needs", "unary-routes", (c) => (at.route(c, "attachments-unary").route.timeout = "60s")],
  ["any origin allowed", "cors", (c) => (at.cors(c).allow_origin_string_match = [{ safe_regex: { regex: ".*" } }])],
  ['the "*" origin', "cors", (c) => (at.cors(c).allow_origin_string_match = [{ exact: "*" }])],
  ["grpc-status-details-bin not exposed", "cors", (c) => (at.cors(c).expose_headers = "grpc-status, grpc-message")],
  [
    "connect-protocol-version not allowed",
    "cors",
    (c) => (at.cors(c).allow_headers = "content-type, authorization, x-grpc-web, x-user-agent, grpc-timeout, connect-timeout-ms"),
  ],
  [
    "retry-after-ms not exposed (the server's CORS exposes it)",
    "cors",
    (c) => (at.cors(c).expose_headers = String(at.cors(c).expose_headers).replace(", retry-after-ms", "")),
  ],
  ["POST not allowed", "cors", (c) => (at.cors(c).allow_methods = "GET, OPTIONS")],
  ["no CORS policy", "cors", (c) => delete at.vhost(c).typed_per_filter_config],
  ["rate limit enforced for 50%", "rate-limit", (c) => (at.rateLimit(c, "unary").filter_enforced.default_value.numerator = 50)],
  ["rate limit not enabled", "rate-limit", (c) => delete at.rateLimit(c, "realtime-connect").filter_enabled],
  ["rate-limited calls answered UNAVAILABLE", "rate-limit", (c) => (at.rateLimit(c, "unary").rate_limited_as_resource_exhausted = false)],
  ["one bucket for all clients", "rate-limit", (c) => delete at.rateLimit(c, "realtime-subscribe").local_rate_limit_per_downstream_connection],
  ["stream opens not limited", "rate-limit", (c) => delete at.route(c, "realtime-connect").typed_per_filter_config],
  ["Envoy's default circuit breaker", "circuit-breakers", (c) => delete at.cluster(c).circuit_breakers],
  ["max_requests at 1024", "circuit-breakers", (c) => (at.cluster(c).circuit_breakers.thresholds[0].max_requests = 1024)],
  [
    "an HTTP health check instead of gRPC",
    "health-check",
    (c) => {
      delete at.cluster(c).health_checks[0].grpc_health_check;
      at.cluster(c).health_checks[0].http_health_check = { path: "/readyz" };
    },
  ],
  ["HTTP/1.1 upstream", "health-check", (c) => delete at.cluster(c).typed_extension_protocol_options],
  ["no outlier detection", "outlier-detection", (c) => delete at.cluster(c).outlier_detection],
  [
    "outlier detection that counts but never ejects",
    "outlier-detection",
    (c) => {
      at.cluster(c).outlier_detection.enforcing_consecutive_5xx = 0;
      at.cluster(c).outlier_detection.enforcing_consecutive_gateway_failure = 0;
    },
  ],
  ["outlier detection may eject every instance", "outlier-detection", (c) => (at.cluster(c).outlier_detection.max_ejection_percent = 100)],
  [
    "client addresses in the access log",
    "access-log",
    (c) => (at.hcm(c).access_log[0].typed_config.log_format.json_format.client = "%DOWNSTREAM_REMOTE_ADDRESS%"),
  ],
  ["query strings in the access log", "access-log", (c) => (at.hcm(c).access_log[0].typed_config.log_format.json_format.path = "%REQ(:PATH)%")],
  ["Envoy's default access log format", "access-log", (c) => delete at.hcm(c).access_log[0].typed_config.log_format],
  ["admin on every interface", "admin", (c) => (c.admin.address.socket_address.address = "0.0.0.0")],
];

describe("each rule fails when its setting is broken", () => {
  test.each(broken)("%s → %s", (_name, rule, edit) => {
    expect(rulesBroken(editedConfig(edit))).toEqual([rule]);
  });

  test("without the rate limit filter, its per-route buckets limit nothing", () => {
    const config = editedConfig(
      (c) => (at.hcm(c).http_filters = at.hcm(c).http_filters.filter((f: EnvoyYaml) => f.name !== "envoy.filters.http.local_ratelimit")),
    );
    expect(rulesBroken(config)).toEqual(["filter-order", "rate-limit"]);
  });

  test("every rule has a failing counterpart", () => {
    expect(new Set(broken.map(([, rule]) => rule))).toEqual(new Set(RULES));
  });

  test("the circuit breaker threshold is well above Envoy's default of 1024", () => {
    expect(MIN_CONCURRENT_REQUESTS).toBeGreaterThanOrEqual(10_000);
    const rejected = editedConfig((c) => (at.cluster(c).circuit_breakers.thresholds[0].max_requests = MIN_CONCURRENT_REQUESTS - 1));
    expect(problems(rejected).map((p) => p.message)).toEqual([expect.stringMatching(/max_requests is 9999; want at least 10000/)]);
  });
});
