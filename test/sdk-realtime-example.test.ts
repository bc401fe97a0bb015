import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let server: TestServer;
let folder: string;

beforeAll(async () => {
  server = await startTestServer();
  folder = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-sdk-example-"));
});

afterAll(async () => {
  await server?.close();
  if (folder) await fs.rm(folder, { recursive: true, force: true });
});

/** The block between the sdk-example markers of docs/sdk.md. */
async function documentedExample(): Promise<string> {
  const doc = await fs.readFile(path.join(ROOT, "docs/sdk.md"), "utf8");
  const block = /<!-- sdk-example:start -->\s*```ts\n([\s\S]*?)```\s*<!-- sdk-example:end -->/.exec(doc)?.[1];
  if (!block) throw new Error("docs/sdk.md has no sdk-example block");
  return block;
}

describe("the docs/sdk.md example", () => {
  it("is at most 20 lines, imports the package entries cyphr/sdk and cyphr/sdk/node, and two users chat with it", async () => {
    const code = await documentedExample();
    expect(code.trimEnd().split("\n").length).toBeLessThanOrEqual(20);
    // An app folder that depends on this checkout as the package "cyphr", as `npm install <path>` would link it.
    await fs.mkdir(path.join(folder, "node_modules"), { recursive: true });
    await fs.symlink(ROOT, path.join(folder, "node_modules", "cyphr"), "dir");
    await fs.writeFile(path.join(folder, "chat.ts"), code);
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", path.join(ROOT, "src/runtime/register.mjs"), "chat.ts"], {
      cwd: folder,
      env: { ...process.env, CYPHR_URL: server.baseUrl },
      timeout: 60_000,
    });
    expect(stdout.trim().split("\n")).toEqual(["bob got: hello bob", "alice got: hi alice"]);
  }, 120_000);
});
