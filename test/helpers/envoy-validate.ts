import fs from "node:fs";
import { type DescField, type DescMessage, fromJson, type JsonObject, type JsonValue, type Message, toJson } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { type Any, anyUnpack, FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { parse as parseYaml } from "yaml";
import { type EnvoyApi, loadEnvoyApi } from "./envoy-api.js";
import { checkValue } from "./envoy-pgv.js";

export const ENVOY_CONFIG_FILE = new URL("../../envoy/envoy.yaml", import.meta.url);
const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";
const EXPLICIT = FeatureSet_FieldPresence.EXPLICIT;

/** The configuration Envoy would reject, with every reason found. */
export class EnvoyConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid Envoy configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "EnvoyConfigError";
  }
}

/** envoy/envoy.yaml as plain data (duplicate keys are an error, as in Envoy). */
export function readEnvoyYaml(file: URL = ENVOY_CONFIG_FILE): unknown {
  return parseEnvoyYaml(fs.readFileSync(file, "utf8"));
}

export function parseEnvoyYaml(text: string): unknown {
  return parseYaml(text, { strict: true, uniqueKeys: true });
}

/**
 * Reads a bootstrap the way Envoy does: strict proto3 JSON against the v3 API (unknown
 * fields, misspelled keys, unknown enum names, malformed durations and unknown Any types
 * fail), then the protoc-gen-validate rules and required oneofs, then deprecated fields
 * (rejected here: deprecated fields become errors in later Envoy releases). Returns the
 * canonical proto JSON (snake_case names, durations like "0s", defaults omitted).
 */
export function validateBootstrap(raw: unknown): JsonObject {
  const api = loadEnvoyApi();
  const schema = api.registry.getMessage(BOOTSTRAP);
  if (!schema) throw new Error(`${BOOTSTRAP} missing from the Envoy API registry`);
  let message: Message;
  try {
    message = fromJson(schema, raw as JsonValue, { registry: api.registry });
  } catch (error) {
    throw new EnvoyConfigError([(error as Error).message]);
  }
  const problems: string[] = [];
  walk(reflect(schema, message), "", api, problems);
  if (problems.length > 0) throw new EnvoyConfigError(problems);
  return toJson(schema, message, { registry: api.registry, useProtoFieldName: true }) as JsonObject;
}

function walk(r: ReflectMessage, path: string, api: EnvoyApi, problems: string[]): void {
  const typeName = r.desc.typeName;
  for (const oneof of r.desc.oneofs) {
    if (api.requiredOneofs.has(`${typeName}.${oneof.name}`) && !r.oneofCase(oneof)) {
      problems.push(`${path || typeName}: one of ${oneof.fields.map((f) => f.name).join(", ")} is required`);
    }
  }
  for (const field of r.desc.fields) {
    // Rules of a oneof member apply only when it is the member that is set (as in PGV).
    if (field.oneof && r.oneofCase(field.oneof) !== field) continue;
    const at = path ? `${path}.${field.name}` : field.name;
    const isSet = r.isSet(field);
    // As in PGV: rules see the default of an unset proto3 scalar (0, "") and an empty list;
    // an unset message (or explicit-presence scalar) only fails `required`.
    const hasValue = isSet || (field.fieldKind !== "message" && field.presence !== EXPLICIT);
    const entries = hasValue ? itemsOf(r, field, at) : [];
    const value = field.fieldKind === "list" || field.fieldKind === "map" ? entries.map((e) => e.value) : entries[0]?.value;
    const rules = api.rules.get(`${typeName}.${field.name}`);
    if (rules) problems.push(...checkValue(value, hasValue, rules, at, field.enum));
    if (!isSet) continue;
    if (field.deprecated) problems.push(`${at}: deprecated field`);
    for (const item of entries) {
      if (field.enum && typeof item.value === "number" && field.enum.values.find((v) => v.number === item.value)?.deprecated) {
        problems.push(`${item.path}: deprecated enum value ${field.enum.value[item.value]?.name}`);
      }
      if (field.message) walkMessage(item.value as ReflectMessage, item.path, api, problems);
    }
  }
}

/** The values of a set field with their paths: one for a singular field, one per item or map entry. */
function itemsOf(r: ReflectMessage, field: DescField, at: string): { value: unknown; path: string }[] {
  if (field.fieldKind === "list") return [...r.get(field)].map((value, i) => ({ value, path: `${at}[${i}]` }));
  if (field.fieldKind === "map") return [...r.get(field)].map(([key, value]) => ({ value, path: `${at}[${JSON.stringify(String(key))}]` }));
  return [{ value: r.get(field), path: at }];
}

/** Recurses into a message; an Any is unpacked with the registry and checked as its own type. */
function walkMessage(r: ReflectMessage, path: string, api: EnvoyApi, problems: string[]): void {
  if (r.desc.typeName !== "google.protobuf.Any") return walk(r, path, api, problems);
  const any = r.message as Any;
  const inner = anyUnpack(any, api.registry);
  const desc: DescMessage | undefined = api.registry.getMessage(any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1));
  if (!inner || !desc) {
    problems.push(`${path}: unknown type ${any.typeUrl}`);
    return;
  }
  walk(reflect(desc, inner), `${path}<${desc.typeName}>`, api, problems);
}
