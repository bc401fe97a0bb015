/**
 * Builds the web app (src/web/app/) into a folder the server serves at `/` (WEB_DIR, default
 * dist/web): one bundled, minified script and one stylesheet with content hashes in their names
 * (cached forever), and index.html pointing at them (never cached). `npm install` runs it (the
 * `prepare` script) and `npm start` runs it with `--if-changed`, which rebuilds only when a file the
 * last build read changed. Nothing built is committed.
 *
 *   tsx src/web/build.ts [--if-changed] [--out <folder>]
 */
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { DEFAULT_WEB_DIR } from "../config.js";

const APP_DIR = fileURLToPath(new URL("./app/", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Records what the last build read (file → sha256), for --if-changed. */
const STAMP_FILE = ".build-inputs.json";

export interface BuildResult {
  outDir: string;
  /** Files written, relative to outDir. */
  files: string[];
  /** False when --if-changed found nothing to do. */
  built: boolean;
  durationMs: number;
}

/** Bundles the app into `outDir`, replacing what an earlier build left there. */
export async function buildWebApp(outDir: string = DEFAULT_WEB_DIR, options: { ifChanged?: boolean } = {}): Promise<BuildResult> {
  const started = Date.now();
  if (options.ifChanged && (await upToDate(outDir))) return { outDir, files: [], built: false, durationMs: Date.now() - started };
  const staging = `${outDir}.tmp-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(APP_DIR, "main.ts"), styles: path.join(APP_DIR, "styles.css") },
    outdir: path.join(staging, "assets"),
    entryNames: "[name]-[hash]",
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome111", "firefox115", "safari16.4"],
    minify: true,
    sourcemap: "linked",
    metafile: true,
    legalComments: "linked",
    logLevel: "silent",
  });
  const outputs = Object.keys(result.metafile.outputs).map((o) => path.relative(staging, path.resolve(ROOT, o)));
  const script = outputs.find((o) => /^assets\/app-\w+\.js$/.test(o));
  const style = outputs.find((o) => /^assets\/styles-\w+\.css$/.test(o));
  if (!script || !style) throw new Error(`the web build made no script or stylesheet (outputs: ${outputs.join(", ")})`);
  const template = await fs.readFile(path.join(APP_DIR, "index.html"), "utf8");
  const html = template.replace("%SCRIPT%", `/${script}`).replace("%STYLE%", `/${style}`);
  await fs.writeFile(path.join(staging, "index.html"), html);
  await fs.copyFile(path.join(APP_DIR, "icon.svg"), path.join(staging, "icon.svg"));
  const inputs = [...Object.keys(result.metafile.inputs).map((i) => path.resolve(ROOT, i)), path.join(APP_DIR, "index.html"), path.join(APP_DIR, "icon.svg")];
  await fs.writeFile(path.join(staging, STAMP_FILE), JSON.stringify(await hashAll(inputs)));
  // Swap in the new build whole, so a server never serves half of one.
  await fs.rm(outDir, { recursive: true, force: true });
  await fs.mkdir(path.dirname(outDir), { recursive: true });
  await fs.rename(staging, outDir);
  return { outDir, files: ["index.html", "icon.svg", ...outputs], built: true, durationMs: Date.now() - started };
}

async function hashAll(files: string[]): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const file of files)
    hashes[path.relative(ROOT, file)] = createHash("sha256")
      .update(await fs.readFile(file))
      .digest("hex");
  return hashes;
}

/** True when the last build's inputs are all unchanged (a new import changes the importing file). */
async function upToDate(outDir: string): Promise<boolean> {
  let recorded: Record<string, string>;
  try {
    recorded = JSON.parse(await fs.readFile(path.join(outDir, STAMP_FILE), "utf8")) as Record<string, string>;
  } catch {
    return false;
  }
  try {
    const now = await hashAll(Object.keys(recorded).map((f) => path.resolve(ROOT, f)));
    return Object.entries(recorded).every(([file, hash]) => now[file] === hash);
  } catch {
    return false; // an input is gone
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf("--out");
  const outDir = outIndex >= 0 && args[outIndex + 1] ? path.resolve(args[outIndex + 1]!) : path.resolve(process.env.WEB_DIR ?? DEFAULT_WEB_DIR);
  buildWebApp(outDir, { ifChanged: args.includes("--if-changed") }).then(
    (r) => console.log(r.built ? `web app built in ${r.durationMs} ms: ${r.outDir}` : `web app up to date: ${r.outDir}`),
    (error: unknown) => {
      console.error(`web app build failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
