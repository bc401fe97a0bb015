import { build } from "esbuild";
import { describe, expect, it } from "vitest";

describe("SDK core in browsers", () => {
  it("bundles for the browser platform with no Node built-in and no Node-only package", async () => {
    const result = await build({
      entryPoints: ["src/sdk/index.ts"],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain("src/sdk/account.ts");
    expect(inputs.filter((i) => i.startsWith("src/sdk/node/") || /node_modules\/(argon2|@connectrpc\/connect-node)\//.test(i))).toEqual([]);
    const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
    expect(imports.filter((p) => p.startsWith("node:"))).toEqual([]);
  });
});
