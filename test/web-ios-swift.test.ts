import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type DescField, type DescMessage, type DescService, fromBinary } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema } from "@bufbuild/protobuf/wkt";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SERVED_FILES } from "../src/app.js";

/**
 * What can be checked of the iOS path without a Swift toolchain (docs/ios.md): buf.gen.swift.yaml
 * parses and runs with buf, handing both local plugins every Cyphr proto file and the options the doc
 * promises (stand-in plugins record the CodeGeneratorRequest buf sends), and every RPC and field the
 * doc names exists in the protos.
 */

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "..");
const PLUGINS = ["protoc-gen-swift", "protoc-gen-grpc-swift-2"];

describe("buf.gen.swift.yaml", () => {
  /** Per plugin: the parameter strings and the files it was asked to generate, over all its runs. */
  let recorded: Map<string, { parameters: Set<string>; files: string[] }>;
  beforeAll(async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-swift-"));
    const bin = path.join(dir, "bin");
    await fs.mkdir(bin);
    // A plugin that writes the request it got and answers with an empty CodeGeneratorResponse
    // (buf runs a plugin once per proto directory: one request file per run).
    for (const name of PLUGINS) {
      await fs.mkdir(path.join(dir, name));
      await fs.writeFile(path.join(bin, name), `#!/bin/sh\ncat > "${dir}/${name}/$$.request"\n`, { mode: 0o755 });
    }
    await run(path.join(ROOT, "node_modules/.bin/buf"), ["generate", "--template", "buf.gen.swift.yaml", "-o", path.join(dir, "out")], {
      cwd: ROOT,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    recorded = new Map();
    for (const name of PLUGINS) {
      const runs = await fs.readdir(path.join(dir, name));
      const requests = await Promise.all(runs.map(async (f) => fromBinary(CodeGeneratorRequestSchema, await fs.readFile(path.join(dir, name, f)))));
      recorded.set(name, { parameters: new Set(requests.map((r) => r.parameter)), files: requests.flatMap((r) => r.fileToGenerate) });
    }
  }, 60_000);

  it("uses the two local plugins (no remote plugin) with public visibility, and client stubs only", async () => {
    const template = parse(await fs.readFile(path.join(ROOT, "buf.gen.swift.yaml"), "utf8")) as {
      version: string;
      plugins: { local?: string; remote?: string; opt: string[] }[];
    };
    expect(template.version).toBe("v2");
    expect(template.plugins.map((p) => p.local)).toEqual(PLUGINS);
    expect(template.plugins.every((p) => p.remote === undefined)).toBe(true);
    expect([...recorded.get("protoc-gen-swift")!.parameters]).toEqual(["Visibility=Public,FileNaming=PathToUnderscores"]);
    expect([...recorded.get("protoc-gen-grpc-swift-2")!.parameters]).toEqual(["Visibility=Public,Client=true,Server=false,FileNaming=PathToUnderscores"]);
  });

  it("hands both plugins every proto file that defines a Cyphr service", () => {
    const served = SERVED_FILES.filter((f) => f.services.length > 0).map((f) => `${f.name}.proto`);
    expect(served.length).toBeGreaterThanOrEqual(8);
    for (const name of PLUGINS) expect(recorded.get(name)!.files).toEqual(expect.arrayContaining(served));
  });
});

describe("docs/ios.md", () => {
  const services = new Map<string, DescService>();
  const messages = new Map<string, DescMessage>();
  const collect = (m: DescMessage) => {
    messages.set(m.name, m);
    m.nestedMessages.forEach(collect);
  };
  for (const file of SERVED_FILES) {
    for (const s of file.services) services.set(s.name, s);
    for (const m of file.messages) collect(m);
    for (const dep of file.dependencies) dep.messages.forEach(collect);
  }

  it("names only RPCs and fields that exist in the protos", async () => {
    const doc = await fs.readFile(path.join(ROOT, "docs/ios.md"), "utf8");
    // `Service.Method` and `Message.field` themselves describe the form.
    const refs = [...doc.matchAll(/`([A-Z]\w+)\.(\w+)`/g)].map((m) => [m[1]!, m[2]!] as const).filter(([owner]) => owner !== "Service" && owner !== "Message");
    const rpcs = refs.filter(([owner]) => services.has(owner));
    const fields = refs.filter(([owner]) => !services.has(owner));
    expect(rpcs.length).toBeGreaterThanOrEqual(10);
    expect(fields.length).toBeGreaterThanOrEqual(20);
    for (const [service, method] of rpcs)
      expect(
        services.get(service)!.methods.map((m) => m.name),
        `${service}.${method}`,
      ).toContain(method);
    for (const [message, field] of fields) {
      expect(messages.has(message), `${message} is a message`).toBe(true);
      const names = messages.get(message)!.fields.map((f: DescField) => f.name);
      expect(names, `${message}.${field}`).toContain(field);
    }
  });
});
