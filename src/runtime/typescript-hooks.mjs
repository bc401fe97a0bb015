// Module hooks that strip TypeScript with esbuild, one file at a time, keeping each file's
// own URL (so import.meta.url and relative paths work as in the sources).
//
// Why not tsx here: tsx always transforms with esbuild's keepNames, which wraps every named
// function in __name(): each such closure the server creates gets a dictionary-mode property
// store, about 4 KB of heap per open event stream and a defineProperty per closure on every
// call (docs/benchmarks.md, "The realtime engine on node:http2"). Tools and tests still use tsx.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";

const TARGET = `node${process.versions.node}`;

/** TypeScript's NodeNext imports name the emitted file ("./x.js"); here the source is "./x.ts". */
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("file:") || specifier.startsWith("/");
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !relative || !specifier.endsWith(".js")) throw error;
    return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const { code } = await transform(await readFile(file, "utf8"), {
    loader: "ts",
    format: "esm",
    target: TARGET,
    sourcemap: "inline",
    sourcefile: file,
  });
  return { format: "module", source: code, shortCircuit: true };
}
