import { SERVED_FILES } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import type { EdgeExpectations } from "./envoy-semantics.js";
import { readEnvoyYaml } from "./envoy-validate.js";

/**
 * envoy/envoy.yaml as plain data, for tests that break one setting at a time. Loosely
 * typed on purpose: a test reaches straight to the setting it changes.
 */
// biome-ignore lint/suspicious/noExplicitAny: parsed Envoy YAML is walked by path in the tests
export type EnvoyYaml = Record<string, any>;

/** A fresh copy of envoy/envoy.yaml (YAML aliases become separate objects), changed by `edit`. */
export function editedConfig(edit: (config: EnvoyYaml) => void): EnvoyYaml {
  const config = JSON.parse(JSON.stringify(readEnvoyYaml())) as EnvoyYaml;
  edit(config);
  return config;
}

/** Paths to the settings tests change. */
export const at = {
  listener: (c: EnvoyYaml) => c.static_resources.listeners[0],
  tls: (c: EnvoyYaml) => at.listener(c).filter_chains[0].transport_socket.typed_config,
  hcm: (c: EnvoyYaml) => at.listener(c).filter_chains[0].filters[0].typed_config,
  httpFilter: (c: EnvoyYaml, name: string) => at.hcm(c).http_filters.find((f: EnvoyYaml) => f.name === name),
  vhost: (c: EnvoyYaml) => at.hcm(c).route_config.virtual_hosts[0],
  route: (c: EnvoyYaml, name: string) => at.vhost(c).routes.find((r: EnvoyYaml) => r.name === name),
  cors: (c: EnvoyYaml) => at.vhost(c).typed_per_filter_config["envoy.filters.http.cors"],
  rateLimit: (c: EnvoyYaml, route: string) => at.route(c, route).typed_per_filter_config["envoy.filters.http.local_ratelimit"],
  cluster: (c: EnvoyYaml) => c.static_resources.clusters[0],
};

/**
 * Unary calls that may outlast the edge's 30 s default, by service: the shortest route
 * timeout each needs. AttachmentsService: CompleteUpload reads back and hashes up to
 * ATTACHMENTS_MAX_BYTES (100 MiB took 10.9 s on a busy 2-core machine), PutChunk and
 * ReadAttachment carry up to 1 MiB over the client's link (2 min: 1 MiB at 70 kbit/s).
 */
export const SLOW_UNARY_SERVICES: Record<string, number> = { "cyphr.attachments.v1.AttachmentsService": 120_000 };

/** What the edge must honour for this server: its heartbeat and every RPC it serves. */
export function cyphrExpectations(): EdgeExpectations {
  return {
    heartbeatMs: loadConfig({}).heartbeatIntervalMs,
    methods: SERVED_FILES.flatMap((file) =>
      file.services.flatMap((service) =>
        service.methods.map((method) => {
          const streaming = method.methodKind !== "unary";
          const minTimeoutMs = streaming ? undefined : SLOW_UNARY_SERVICES[service.typeName];
          return { path: `/${service.typeName}/${method.name}`, streaming, ...(minTimeoutMs === undefined ? {} : { minTimeoutMs }) };
        }),
      ),
    ),
  };
}

/** Every "@type" URL in a configuration, wherever it is nested. */
export function typeUrls(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(typeUrls);
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, v]) => (key === "@type" && typeof v === "string" ? [v] : typeUrls(v)));
}
