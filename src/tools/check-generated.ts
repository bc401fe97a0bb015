/**
 * Fails when src/gen differs from what `buf generate` produces from proto/ now, so a
 * proto change can never land without its regenerated code.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "..", "..");
const out = fs.mkdtempSync(path.join(os.tmpdir(), "cyphr-gen-"));
try {
  const buf = path.join(root, "node_modules", ".bin", "buf");
  execFileSync(buf, ["generate", "--output", out], { cwd: root, stdio: "inherit" });
  const expected = listFiles(path.join(out, "src", "gen"));
  const actual = listFiles(path.join(root, "src", "gen"));
  const problems: string[] = [];
  for (const file of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(file);
    const have = actual.get(file);
    if (want === undefined) problems.push(`src/gen/${file} is not generated from proto/ any more (delete it)`);
    else if (have === undefined) problems.push(`src/gen/${file} is missing`);
    else if (want !== have) problems.push(`src/gen/${file} is stale`);
  }
  if (problems.length > 0) {
    console.error(`generated code is out of date; run \`npm run generate\` and commit:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    process.exit(1);
  }
  console.log(`generated code is up to date (${actual.size} files)`);
} finally {
  fs.rmSync(out, { recursive: true, force: true });
}

function listFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!fs.existsSync(dir)) return files;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    files.set(path.relative(dir, full), fs.readFileSync(full, "utf8"));
  }
  return files;
}
