import { describe, expect, test } from "vitest";
import { loadEnvoyApi } from "./helpers/envoy-api.js";
import { at, type EnvoyYaml, editedConfig, typeUrls } from "./helpers/envoy-fixtures.js";
import { EnvoyConfigError, parseEnvoyYaml, readEnvoyYaml, validateBootstrap } from "./helpers/envoy-validate.js";

/** The validation error for a configuration, or undefined when it is accepted. */
function rejection(config: unknown): string | undefined {
  try {
    validateBootstrap(config);
    return undefined;
  } catch (error) {
    if (!(error instanceof EnvoyConfigError)) throw error;
    return error.message;
  }
}

describe("envoy/envoy.yaml against Envoy's v3 API", () => {
  test("parses strictly as an envoy.config.bootstrap.v3.Bootstrap, PGV rules and all", () => {
    expect(rejection(readEnvoyYaml())).toBeUndefined();
  });

  test("the registry is Envoy's whole v3 API as shipped, less the files that need protos not shipped", () => {
    const api = loadEnvoyApi();
    expect(api.fileCount).toBeGreaterThan(350);
    // These import OpenCensus, OpenTelemetry or Prometheus protos, which the package does not
    // ship; a new skip here means part of the API silently went missing.
    expect(api.skippedFiles).toEqual([
      "envoy/config/trace/v3/opencensus.proto",
      "envoy/config/trace/v3/trace.proto",
      "envoy/extensions/access_loggers/open_telemetry/v3/logs_service.proto",
      "envoy/service/metrics/v3/metrics_service.proto",
      "envoy/service/trace/v3/trace_service.proto",
    ]);
  });

  test("every @type in the configuration is a message of the API", () => {
    const { registry } = loadEnvoyApi();
    const urls = typeUrls(readEnvoyYaml());
    expect(urls.length).toBeGreaterThan(8);
    for (const url of urls) {
      expect(url).toMatch(/^type\.googleapis\.com\//);
      expect(registry.getMessage(url.slice(url.indexOf("/") + 1)), url).toBeDefined();
    }
  });
});

describe("the validation rejects what Envoy rejects", () => {
  const cases: [string, (c: EnvoyYaml) => void, RegExp][] = [
    ["an unknown field", (c) => (at.listener(c).reuse_port_please = true), /Listener from JSON: key "reuse_port_please" is unknown/],
    [
      "a misspelled key inside a typed_config",
      (c) => {
        at.hcm(c).use_remote_adress = true;
        delete at.hcm(c).use_remote_address;
      },
      /HttpConnectionManager from JSON: key "use_remote_adress" is unknown/,
    ],
    [
      "a wrong enum name",
      (c) => (at.tls(c).common_tls_context.tls_params.tls_minimum_protocol_version = "TLSv1.3"),
      /cannot decode enum .*TlsProtocol from JSON: "TLSv1\.3"/,
    ],
    ["a duration given as a number", (c) => (at.route(c, "unary").route.timeout = 30), /google\.protobuf\.Duration from JSON: 30/],
    ["a duration in minutes", (c) => (at.route(c, "unary").route.timeout = "1m"), /google\.protobuf\.Duration from JSON: "1m"/],
    ["a duration with a space", (c) => (at.route(c, "realtime-connect").route.idle_timeout = "90 s"), /Duration from JSON: "90 s"/],
    [
      "an unknown @type URL",
      (c) =>
        (at.httpFilter(c, "envoy.filters.http.grpc_web").typed_config["@type"] = "type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWebFilter"),
      /GrpcWebFilter is not in the type registry/,
    ],
    [
      "a setting of another filter inside a typed_config",
      (c) => (at.httpFilter(c, "envoy.filters.http.grpc_web").typed_config.suppress_envoy_headers = true),
      /GrpcWeb from JSON: key "suppress_envoy_headers" is unknown/,
    ],
    [
      "the deprecated route-level cors field",
      (c) => (at.vhost(c).cors = { allow_origin_string_match: [{ exact: "https://app.cyphr.example" }] }),
      /virtual_hosts\[0\]\.cors: deprecated field/,
    ],
    ["a wrong value type", (c) => (at.listener(c).address.socket_address.port_value = "https"), /port_value from JSON: expected number/],
    ["an empty token bucket (PGV uint32.gt)", (c) => (at.rateLimit(c, "unary").token_bucket.max_tokens = 0), /token_bucket\.max_tokens: must be > 0/],
    ["a zero fill interval (PGV duration.gt)", (c) => (at.rateLimit(c, "unary").token_bucket.fill_interval = "0s"), /fill_interval: must be > 0s/],
    ["an empty stat_prefix (PGV string.min_len)", (c) => (at.hcm(c).stat_prefix = ""), /stat_prefix: must be at least 1 character/],
    [
      "a health check without timeout (PGV duration.required)",
      (c) => delete at.cluster(c).health_checks[0].timeout,
      /health_checks\[0\]\.timeout: value is required/,
    ],
    ["a route without action (required oneof)", (c) => delete at.route(c, "unary").route, /routes\[\d+\]: one of route, redirect, direct_response/],
  ];

  test.each(cases)("%s", (_name, edit, reason) => {
    expect(rejection(editedConfig(edit))).toMatch(reason);
  });

  test("a duplicate key in the YAML", () => {
    expect(() => parseEnvoyYaml("admin: {}\nadmin: {}\n")).toThrow(/Map keys must be unique/);
  });
});
