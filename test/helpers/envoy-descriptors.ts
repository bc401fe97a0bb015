import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  DescriptorProtoSchema,
  type EnumDescriptorProto,
  EnumDescriptorProtoSchema,
  FieldDescriptorProtoSchema,
  FieldDescriptorProto_Type as FieldType,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
} from "@bufbuild/protobuf/wkt";
import protobuf from "protobufjs";

/** The `(validate.rules)` option of a field, as protobufjs parsed it (e.g. `{ duration: { gt: {} } }`). */
export type ValidateRules = Record<string, unknown>;

export interface ConvertedFiles {
  /** One FileDescriptorProto per .proto file, dependencies first. */
  files: FileDescriptorProto[];
  rules: Map<string, ValidateRules>;
  requiredOneofs: Set<string>;
}

const SCALARS: Record<string, FieldType> = {
  double: FieldType.DOUBLE,
  float: FieldType.FLOAT,
  int64: FieldType.INT64,
  uint64: FieldType.UINT64,
  int32: FieldType.INT32,
  fixed64: FieldType.FIXED64,
  fixed32: FieldType.FIXED32,
  bool: FieldType.BOOL,
  string: FieldType.STRING,
  bytes: FieldType.BYTES,
  uint32: FieldType.UINT32,
  sfixed32: FieldType.SFIXED32,
  sfixed64: FieldType.SFIXED64,
  sint32: FieldType.SINT32,
  sint64: FieldType.SINT64,
};

/**
 * Turns a resolved protobufjs Root into FileDescriptorProtos as protoc would write them:
 * fully qualified type names, map entry messages, json names, synthetic oneofs for proto3
 * `optional`, `deprecated` on fields and enum values. google.protobuf types are left out
 * (the caller adds @bufbuild/protobuf's own well-known files); services and custom option
 * extensions are not needed to read configuration and are skipped.
 */
export function descriptorFiles(root: protobuf.Root, fileName: (absolute: string) => string, jsonName: (fieldName: string) => string): ConvertedFiles {
  const rules = new Map<string, ValidateRules>();
  const requiredOneofs = new Set<string>();
  const files = new Map<string, { proto: FileDescriptorProto; deps: Set<string> }>();
  const wktFile = (typeName: string) => {
    const file = WKT_FILES[typeName];
    if (!file) throw new Error(`no well-known file for ${typeName}`);
    return `google/protobuf/${file}.proto`;
  };

  const fileOf = (obj: protobuf.ReflectionObject): string => {
    let top = obj;
    while (top.parent && (top.parent instanceof protobuf.Type || top.parent instanceof protobuf.Enum)) top = top.parent;
    if (!top.filename) throw new Error(`${obj.fullName} has no source file`);
    return fileName(top.filename);
  };

  const fieldProto = (field: protobuf.Field, owner: protobuf.Type, deps: Set<string>, oneofIndex: Map<protobuf.OneOf, number>) => {
    const proto: MessageInitShape<typeof FieldDescriptorProtoSchema> = {
      name: field.name,
      number: field.id,
      jsonName: jsonName(field.name),
      label: field.repeated || field.map ? Label.REPEATED : Label.OPTIONAL,
    };
    if (field.map) {
      proto.type = FieldType.MESSAGE;
      proto.typeName = `${owner.fullName}.${mapEntryName(field.name)}`;
    } else {
      Object.assign(proto, typeOf(field.type, field.resolvedType, deps));
    }
    if (field.partOf) proto.oneofIndex = oneofIndex.get(field.partOf);
    if (field.options?.proto3_optional) proto.proto3Optional = true;
    if (field.options?.deprecated) proto.options = { deprecated: true };
    const fieldRules = mergedOption(field.parsedOptions, "(validate.rules)");
    if (fieldRules) rules.set(`${owner.fullName.slice(1)}.${field.name}`, fieldRules);
    return create(FieldDescriptorProtoSchema, proto);
  };

  const typeOf = (type: string, resolved: protobuf.Type | protobuf.Enum | null, deps: Set<string>) => {
    if (!resolved) {
      const scalar = SCALARS[type];
      if (scalar === undefined) throw new Error(`unresolved type ${type}`);
      return { type: scalar };
    }
    const full = resolved.fullName.slice(1);
    deps.add(full.startsWith("google.protobuf.") ? wktFile(full) : fileOf(resolved));
    return { type: resolved instanceof protobuf.Enum ? FieldType.ENUM : FieldType.MESSAGE, typeName: resolved.fullName };
  };

  const enumProto = (e: protobuf.Enum): EnumDescriptorProto =>
    create(EnumDescriptorProtoSchema, {
      name: e.name,
      value: Object.entries(e.values).map(([name, number]) => ({
        name,
        number,
        ...(e.valuesOptions?.[name]?.deprecated ? { options: { deprecated: true } } : {}),
      })),
      ...(e.options?.allow_alias ? { options: { allowAlias: true } } : {}),
    });

  const messageProto = (t: protobuf.Type, deps: Set<string>): DescriptorProto => {
    // protoc lists real oneofs before the synthetic ones of proto3 `optional` fields.
    const isSynthetic = (o: protobuf.OneOf) => o.fieldsArray.length === 1 && !!o.fieldsArray[0]!.options?.proto3_optional;
    const oneofs = [...t.oneofsArray.filter((o) => !isSynthetic(o)), ...t.oneofsArray.filter(isSynthetic)];
    const oneofIndex = new Map(oneofs.map((o, i) => [o, i]));
    for (const o of oneofs) {
      if (mergedOption(o.parsedOptions, "(validate.required)") ?? o.options?.["(validate.required)"]) {
        requiredOneofs.add(`${t.fullName.slice(1)}.${o.name}`);
      }
    }
    const nested: DescriptorProto[] = [];
    const enums: EnumDescriptorProto[] = [];
    for (const child of t.nestedArray) {
      if (child instanceof protobuf.Type) nested.push(messageProto(child, deps));
      else if (child instanceof protobuf.Enum) enums.push(enumProto(child));
    }
    for (const field of t.fieldsArray.filter((f) => f.map)) {
      const map = field as unknown as protobuf.MapField;
      nested.push(
        create(DescriptorProtoSchema, {
          name: mapEntryName(map.name),
          field: [
            { name: "key", number: 1, jsonName: "key", label: Label.OPTIONAL, ...typeOf(map.keyType, null, deps) },
            { name: "value", number: 2, jsonName: "value", label: Label.OPTIONAL, ...typeOf(map.type, map.resolvedType, deps) },
          ],
          options: { mapEntry: true },
        }),
      );
    }
    return create(DescriptorProtoSchema, {
      name: t.name,
      field: t.fieldsArray.map((f) => fieldProto(f, t, deps, oneofIndex)),
      nestedType: nested,
      enumType: enums,
      oneofDecl: oneofs.map((o) => ({ name: o.name })),
    });
  };

  const visit = (ns: protobuf.NamespaceBase) => {
    for (const child of ns.nestedArray) {
      const isTop = child instanceof protobuf.Type || child instanceof protobuf.Enum;
      if (isTop && !child.fullName.startsWith(".google.protobuf.")) {
        const name = fileOf(child);
        const pkg = ns.fullName.slice(1);
        const entry = files.get(name) ?? { proto: create(FileDescriptorProtoSchema, { name, package: pkg, syntax: "proto3" }), deps: new Set() };
        files.set(name, entry);
        if (child instanceof protobuf.Type) entry.proto.messageType.push(messageProto(child, entry.deps));
        else entry.proto.enumType.push(enumProto(child as protobuf.Enum));
      } else if (!isTop && child instanceof protobuf.Namespace && !(child instanceof protobuf.Service)) {
        visit(child);
      }
    }
  };
  visit(root);

  // Dependencies first (imports are acyclic, and a file only references what it imports).
  const ordered: FileDescriptorProto[] = [];
  const placed = new Set<string>();
  const place = (name: string) => {
    const entry = files.get(name);
    if (!entry || placed.has(name)) return;
    placed.add(name);
    entry.deps.delete(name);
    entry.proto.dependency = [...entry.deps].sort();
    for (const dep of entry.proto.dependency) place(dep);
    ordered.push(entry.proto);
  };
  for (const name of [...files.keys()].sort()) place(name);
  return { files: ordered, rules, requiredOneofs };
}

/** protoc's name for the entry message of map field `foo_bar`: `FooBarEntry`. */
function mapEntryName(fieldName: string): string {
  return `${fieldName.replace(/(?:^|_)([a-z0-9])/g, (_, c: string) => c.toUpperCase())}Entry`;
}

/** One custom option from protobufjs's parsedOptions, with repeated settings merged. */
function mergedOption(parsed: unknown, key: string): ValidateRules | undefined {
  if (!Array.isArray(parsed)) return undefined;
  let result: ValidateRules | undefined;
  for (const entry of parsed as Record<string, unknown>[]) {
    if (!(key in entry)) continue;
    const value = entry[key];
    result = typeof value === "object" && value !== null ? deepMerge(result ?? {}, value as ValidateRules) : { value };
  }
  return result;
}

function deepMerge(a: ValidateRules, b: ValidateRules): ValidateRules {
  const out: ValidateRules = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      typeof prev === "object" && prev !== null && typeof v === "object" && v !== null && !Array.isArray(v)
        ? deepMerge(prev as ValidateRules, v as ValidateRules)
        : v;
  }
  return out;
}

/** Which well-known file defines each google.protobuf type Envoy uses. */
const WKT_FILES: Record<string, string> = {
  "google.protobuf.Any": "any",
  "google.protobuf.Duration": "duration",
  "google.protobuf.Empty": "empty",
  "google.protobuf.FieldMask": "field_mask",
  "google.protobuf.Struct": "struct",
  "google.protobuf.Value": "struct",
  "google.protobuf.ListValue": "struct",
  "google.protobuf.NullValue": "struct",
  "google.protobuf.Timestamp": "timestamp",
  "google.protobuf.DoubleValue": "wrappers",
  "google.protobuf.FloatValue": "wrappers",
  "google.protobuf.Int64Value": "wrappers",
  "google.protobuf.UInt64Value": "wrappers",
  "google.protobuf.Int32Value": "wrappers",
  "google.protobuf.UInt32Value": "wrappers",
  "google.protobuf.BoolValue": "wrappers",
  "google.protobuf.StringValue": "wrappers",
  "google.protobuf.BytesValue": "wrappers",
};
