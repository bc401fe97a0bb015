import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { create, createFileRegistry, type FileRegistry } from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import * as wkt from "@bufbuild/protobuf/wkt";
import protobuf from "protobufjs";
import { descriptorFiles, type ValidateRules } from "./envoy-descriptors.js";

/**
 * Envoy's v3 API as a @bufbuild/protobuf registry, built from the .proto files that
 * @grpc/grpc-js-xds ships (deps/envoy-api with xds, googleapis and protoc-gen-validate).
 *
 * Why protobufjs first: buf and protoc reject the bundled validate.proto as too old for
 * some Envoy protos (options such as `ignore_empty`); protobufjs parses the files and keeps
 * custom options as plain data, so the PGV rules survive as `ValidateRules` instead of
 * failing the build. The parsed types are then turned into real FileDescriptorProtos (one
 * per .proto file, with its dependencies) for @bufbuild/protobuf, whose JSON parser is
 * strict: unknown fields, unknown enum names, malformed durations and Any types missing
 * from the registry are errors, as in Envoy.
 */

const require = createRequire(import.meta.url);
const XDS_DEPS = path.join(path.dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
const PROTOBUFJS_DIR = path.dirname(require.resolve("protobufjs/package.json"));
const INCLUDE_DIRS = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => path.join(XDS_DEPS, d));
/** google/protobuf files protobufjs bundles itself (parsed from memory, never from disk). */
const BUNDLED = new Set(["any", "duration", "empty", "field_mask", "struct", "timestamp", "wrappers"].map((n) => `google/protobuf/${n}.proto`));

export interface EnvoyApi {
  registry: FileRegistry;
  /** protoc-gen-validate rules by field ("pkg.Message.field") and required oneofs ("pkg.Message.oneof"). */
  rules: ReadonlyMap<string, ValidateRules>;
  requiredOneofs: ReadonlySet<string>;
  /** v3 files left out because an import they need is not shipped (e.g. OpenCensus, OpenTelemetry). */
  skippedFiles: string[];
  /** How many .proto files are in the registry. */
  fileCount: number;
}

let cached: EnvoyApi | undefined;

/** Loads every Envoy v3 API file whose imports are all shipped (about a second; cached per process). */
export function loadEnvoyApi(): EnvoyApi {
  if (cached) return cached;
  const { loadable, skipped } = partitionByImports(listV3Files());
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => findFile(target) ?? target;
  root.loadSync(loadable, { keepCase: true });
  root.resolveAll();
  const converted = descriptorFiles(root, relativeName, protoCamelCase);
  const wktFiles = [
    wkt.file_google_protobuf_any,
    wkt.file_google_protobuf_source_context,
    wkt.file_google_protobuf_type,
    wkt.file_google_protobuf_api,
    wkt.file_google_protobuf_duration,
    wkt.file_google_protobuf_empty,
    wkt.file_google_protobuf_field_mask,
    wkt.file_google_protobuf_struct,
    wkt.file_google_protobuf_timestamp,
    wkt.file_google_protobuf_wrappers,
    wkt.file_google_protobuf_descriptor,
  ].map((f) => f.proto);
  const registry = createFileRegistry(create(wkt.FileDescriptorSetSchema, { file: [...wktFiles, ...converted.files] }));
  cached = {
    registry,
    rules: converted.rules,
    requiredOneofs: converted.requiredOneofs,
    skippedFiles: skipped,
    fileCount: wktFiles.length + converted.files.length,
  };
  return cached;
}

function listV3Files(): string[] {
  const base = path.join(XDS_DEPS, "envoy-api");
  return (fs.readdirSync(path.join(base, "envoy"), { recursive: true }) as string[])
    .map((f) => `envoy/${f.split(path.sep).join("/")}`)
    .filter((f) => f.endsWith(".proto") && f.includes("/v3/"))
    .sort();
}

/** Absolute path of an import, or undefined when it is not shipped. */
function findFile(name: string): string | undefined {
  const dirs = name.startsWith("google/protobuf/") ? [PROTOBUFJS_DIR, ...INCLUDE_DIRS] : INCLUDE_DIRS;
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** "envoy/config/…/x.proto" from an absolute path under an include folder. */
function relativeName(absolute: string): string {
  for (const dir of [...INCLUDE_DIRS, PROTOBUFJS_DIR]) {
    if (absolute.startsWith(dir + path.sep))
      return absolute
        .slice(dir.length + 1)
        .split(path.sep)
        .join("/");
  }
  return absolute;
}

/** Splits files into those whose whole import closure is shipped and those that are not. */
function partitionByImports(files: string[]): { loadable: string[]; skipped: string[] } {
  const memo = new Map<string, boolean>();
  const complete = (name: string, stack: Set<string>): boolean => {
    if (BUNDLED.has(name)) return true;
    const known = memo.get(name);
    if (known !== undefined) return known;
    if (stack.has(name)) return true;
    const file = findFile(name);
    if (!file) return memo.set(name, false).get(name)!;
    stack.add(name);
    const imports = [...fs.readFileSync(file, "utf8").matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)].map((m) => m[1]!);
    const ok = imports.every((i) => complete(i, stack));
    stack.delete(name);
    memo.set(name, ok);
    return ok;
  };
  const loadable = files.filter((f) => complete(f, new Set()));
  return { loadable, skipped: files.filter((f) => !loadable.includes(f)) };
}
