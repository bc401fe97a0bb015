import type { JsonObject } from "@bufbuild/protobuf";
import { list, obj, str, typeOf } from "./envoy-model.js";

/** Match conditions besides the path: a route that has any may or may not match a request. */
const CONDITIONS = ["headers", "query_parameters", "grpc", "runtime_fraction", "tls_context", "dynamic_metadata", "filter_state", "cel_matcher"];

export interface ReachedRoute {
  route: JsonObject;
  /** Where it sits in the route table, for messages: `routes[3] "unary"`. */
  label: string;
}

/**
 * The routes of `vhost` that a request for `path` can end on, as Envoy picks them (first
 * match wins): every matching route that has extra conditions (headers, grpc, runtime
 * fraction, …), then the first matching route without any. A route whose path matcher
 * this emulation cannot evaluate is reported through `unknown`.
 */
export function reachableRoutes(vhost: JsonObject, path: string, unknown: (label: string) => void): ReachedRoute[] {
  const reached: ReachedRoute[] = [];
  for (const [i, route] of list(vhost.routes).entries()) {
    const label = `routes[${i}]${route.name ? ` "${str(route.name)}"` : ""}`;
    const match = obj(route.match);
    const matches = pathMatches(match, path);
    if (matches === undefined) {
      unknown(label);
      reached.push({ route, label });
      continue;
    }
    if (!matches) continue;
    reached.push({ route, label });
    if (!CONDITIONS.some((c) => c in match)) return reached;
  }
  return reached;
}

/** Whether the route's path matcher accepts `path`; undefined when it is not one of prefix, path, safe_regex, path_separated_prefix. */
function pathMatches(match: JsonObject, path: string): boolean | undefined {
  const caseSensitive = match.case_sensitive !== false;
  const fold = (s: string) => (caseSensitive ? s : s.toLowerCase());
  const p = fold(path);
  if (typeof match.prefix === "string") return p.startsWith(fold(match.prefix));
  if (typeof match.path === "string") return p === fold(match.path);
  if (typeof match.path_separated_prefix === "string") {
    const prefix = fold(match.path_separated_prefix);
    return p === prefix || p.startsWith(`${prefix}/`);
  }
  const regex = str(obj(match.safe_regex).regex);
  // RE2 and JavaScript agree on the plain syntax routes use; Envoy requires a full match.
  if (regex !== undefined) return new RegExp(`^(?:${regex})$`).test(path);
  return undefined;
}

/** The most specific per-filter configuration for filter `name`: route, then virtual host, then route table. */
export function perFilterConfig(name: string, route: JsonObject, vhost: JsonObject, routeConfig: JsonObject): JsonObject | undefined {
  for (const level of [route, vhost, routeConfig]) {
    const config = obj(level.typed_per_filter_config)[name];
    if (config === undefined) continue;
    // A FilterConfig wrapper (is_optional, disabled) carries the real configuration inside.
    return typeOf(config) === "envoy.config.route.v3.FilterConfig" ? obj(obj(config).config) : obj(config);
  }
  return undefined;
}
