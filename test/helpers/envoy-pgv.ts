import type { DescEnum } from "@bufbuild/protobuf";
import type { ReflectMessage } from "@bufbuild/protobuf/reflect";
import type { ValidateRules } from "./envoy-descriptors.js";

/**
 * The protoc-gen-validate rules Envoy enforces when it loads configuration, for the kinds
 * its API uses: required messages, durations and Anys; numeric and duration bounds; string
 * lengths, prefixes and sets; defined enum values; item counts of lists and maps, and rules
 * on their items. Regex patterns (RE2) and header-name regexes are not evaluated.
 */

type Value = unknown;

/** Problems of one field value against its rules ("" when it is unset). */
export function checkValue(value: Value, isSet: boolean, rules: ValidateRules, path: string, enumDesc?: DescEnum): string[] {
  const problems: string[] = [];
  const fail = (what: string) => problems.push(`${path}: ${what}`);
  for (const [kind, raw] of Object.entries(rules)) {
    const rule = (raw ?? {}) as Record<string, unknown>;
    if (kind === "message") {
      if (rule.required && !isSet) fail("value is required");
      continue;
    }
    if ((kind === "duration" || kind === "any" || kind === "timestamp") && rule.required && !isSet) fail("value is required");
    if (!isSet) continue;
    if (rule.ignore_empty && isEmpty(value)) continue;
    switch (kind) {
      case "repeated":
      case "map": {
        const items = value as unknown[];
        const min = (rule.min_items ?? rule.min_pairs) as number | undefined;
        const max = (rule.max_items ?? rule.max_pairs) as number | undefined;
        if (min !== undefined && items.length < min) fail(`needs at least ${min} item(s), has ${items.length}`);
        if (max !== undefined && items.length > max) fail(`allows at most ${max} item(s), has ${items.length}`);
        const itemRules = (rule.items ?? rule.values) as ValidateRules | undefined;
        if (itemRules) items.forEach((item, i) => problems.push(...checkValue(item, true, itemRules, `${path}[${i}]`, enumDesc)));
        break;
      }
      case "string": {
        const s = value as string;
        const chars = [...s].length;
        const bytes = Buffer.byteLength(s, "utf8");
        if (rule.min_len !== undefined && chars < Number(rule.min_len)) fail(`must be at least ${rule.min_len} character(s)`);
        if (rule.max_len !== undefined && chars > Number(rule.max_len)) fail(`must be at most ${rule.max_len} character(s)`);
        if (rule.min_bytes !== undefined && bytes < Number(rule.min_bytes)) fail(`must be at least ${rule.min_bytes} byte(s)`);
        if (rule.max_bytes !== undefined && bytes > Number(rule.max_bytes)) fail(`must be at most ${rule.max_bytes} byte(s)`);
        if (typeof rule.prefix === "string" && !s.startsWith(rule.prefix)) fail(`must start with "${rule.prefix}"`);
        if (typeof rule.suffix === "string" && !s.endsWith(rule.suffix)) fail(`must end with "${rule.suffix}"`);
        checkSets(s, rule, fail);
        break;
      }
      case "enum": {
        const n = value as number;
        if (rule.defined_only && enumDesc && !enumDesc.values.some((v) => v.number === n)) fail(`${n} is not a defined value`);
        checkSets(n, rule, fail);
        break;
      }
      case "duration":
        checkBounds(durationNanos(value as ReflectMessage), rule, (r) => durationNanos(r as Record<string, unknown>), fail, formatNanos);
        break;
      case "any": {
        const url = String((value as ReflectMessage).message["typeUrl" as never]);
        if (Array.isArray(rule.in) && !rule.in.includes(url)) fail(`type ${url} is not allowed`);
        break;
      }
      case "bool":
      case "bytes":
      case "timestamp":
        break;
      default: // numeric kinds: uint32, int64, double, …; on wrapper types the rule applies to `value`
        checkBounds(numeric(value), rule, (r) => numeric(r), fail, String);
    }
  }
  return problems;
}

function checkSets(value: unknown, rule: Record<string, unknown>, fail: (what: string) => void) {
  const list = (v: unknown) => (Array.isArray(v) ? v : v === undefined ? undefined : [v]);
  if (rule.const !== undefined && rule.const !== value) fail(`must be ${String(rule.const)}`);
  const allowed = list(rule.in);
  if (allowed && !allowed.includes(value)) fail(`must be one of ${allowed.join(", ")}`);
  const denied = list(rule.not_in);
  if (denied?.includes(value)) fail(`must not be ${String(value)}`);
}

/** gt/gte/lt/lte/const, including PGV's exclusive ranges (an upper bound below the lower one). */
function checkBounds<T extends number | bigint>(
  value: T,
  rule: Record<string, unknown>,
  convert: (raw: unknown) => T,
  fail: (what: string) => void,
  show: (v: T) => string,
) {
  const get = (k: string) => (rule[k] === undefined ? undefined : convert(rule[k]));
  const [gt, gte, lt, lte, eq] = [get("gt"), get("gte"), get("lt"), get("lte"), get("const")];
  if (eq !== undefined && value !== eq) fail(`must be ${show(eq)}`);
  const bound = (v: T | undefined, ok: (x: T, v: T) => boolean, op: string) =>
    v === undefined ? undefined : { v, ok: (x: T) => ok(x, v), text: `${op} ${show(v)}` };
  const lower = bound(gt, (x, v) => x > v, ">") ?? bound(gte, (x, v) => x >= v, ">=");
  const upper = bound(lt, (x, v) => x < v, "<") ?? bound(lte, (x, v) => x <= v, "<=");
  if (lower && upper && upper.v < lower.v) {
    if (!lower.ok(value) && !upper.ok(value)) fail(`must be ${lower.text} or ${upper.text}, got ${show(value)}`);
    return;
  }
  if (lower && !lower.ok(value)) fail(`must be ${lower.text}, got ${show(value)}`);
  if (upper && !upper.ok(value)) fail(`must be ${upper.text}, got ${show(value)}`);
}

function numeric(value: unknown): number {
  if (isReflectMessage(value)) return Number(value.message["value" as never] ?? 0); // wrapper types
  return Number(value);
}

function durationNanos(value: ReflectMessage | Record<string, unknown>): bigint {
  const fields = isReflectMessage(value) ? (value.message as unknown as Record<string, unknown>) : value;
  return BigInt(String(fields.seconds ?? 0)) * 1_000_000_000n + BigInt(String(fields.nanos ?? 0));
}

function formatNanos(n: bigint): string {
  return `${Number(n) / 1e9}s`;
}

function isEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0;
  if (isReflectMessage(value)) return value.fields.every((f) => !value.isSet(f));
  return value === "" || value === 0 || value === 0n || value === false;
}

function isReflectMessage(value: unknown): value is ReflectMessage {
  return typeof value === "object" && value !== null && "desc" in value && "isSet" in value;
}
