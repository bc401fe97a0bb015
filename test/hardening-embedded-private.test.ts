import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { REPO_ROOT, runScript, type ServerProcess, spawnServer } from "./helpers/process.js";
import { registerUser } from "./helpers/users.js";

/**
 * Root in a private folder (issue 9, item 12): as root, PostgreSQL runs as the OS user
 * `postgres`, which cannot enter a 0700 folder such as /root. A checkout under one must
 * still run the test suite's start-up and `npm start`, with no manual step.
 *
 * The checkout is a copy of this one under a fresh 0700 folder (node_modules hard-linked,
 * so the PostgreSQL binaries really live under it), and TMPDIR a fresh folder, so the
 * binaries' cache is made from scratch.
 */

const isRoot = process.getuid?.() === 0;
const run = promisify(execFile);

let privateRoot: string;
let checkout: string;
let tmpdir: string;

beforeAll(async () => {
  if (!isRoot) return;
  privateRoot = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-private-"));
  await fs.chmod(privateRoot, 0o700);
  checkout = path.join(privateRoot, "checkout");
  await fs.mkdir(checkout);
  for (const entry of ["src", "migrations", "test", "package.json", "tsconfig.json"]) {
    await run("cp", ["-a", path.join(REPO_ROOT, entry), checkout]);
  }
  // Hard links: the same files, reachable only through the private folder.
  await run("cp", ["-al", path.join(REPO_ROOT, "node_modules"), checkout]);
  tmpdir = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-private-tmp-"));
  await fs.chmod(tmpdir, 0o711);
}, 120_000);

afterAll(async () => {
  if (!isRoot) return;
  // The cluster of the default data folder lives outside it, where the symbolic link points.
  const link = path.join(checkout, ".cyphr", "pg");
  const target = await fs.readlink(link).catch(() => undefined);
  if (target?.startsWith("/var/lib/cyphr/")) {
    await fs.rm(path.dirname(target), { recursive: true, force: true });
    await fs.rmdir("/var/lib/cyphr").catch(() => undefined);
  }
  await fs.rm(privateRoot, { recursive: true, force: true });
  await fs.rm(tmpdir, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!isRoot)("as root, in a checkout under a 0700 folder", () => {
  it("the test suite's global setup starts PostgreSQL, migrates the template and stops it", async () => {
    const script = path.join(checkout, "run-global-setup.ts");
    await fs.writeFile(
      script,
      [
        'import setup from "./test/helpers/global-setup.ts";',
        "let adminUrl = '';",
        "const stop = await setup({ provide: (_key: string, value: string) => (adminUrl = value) } as never);",
        "await stop();",
        "process.stdout.write(adminUrl.startsWith('postgres://') ? 'global setup ok\\n' : 'no admin url\\n');",
      ].join("\n"),
    );
    const result = await runScript(script, { TMPDIR: tmpdir }, 120_000, checkout);
    expect(result.stderr).toBe("");
    expect(result).toMatchObject({ code: 0, stdout: "global setup ok\n" });
    // The binaries ran from a root-owned copy outside the private folder.
    const [copy] = (await fs.readdir(tmpdir)).filter((name) => name.startsWith("cyphr-postgres-"));
    expect(copy).toBeDefined();
    const stat = await fs.stat(path.join(tmpdir, copy!, "bin", "postgres"));
    expect({ uid: stat.uid, mode: stat.mode & 0o777 }).toEqual({ uid: 0, mode: 0o755 });
  }, 180_000);

  it("npm start's boot serves with the default data folder inside the checkout, and stops cleanly", async () => {
    let server: ServerProcess | undefined;
    try {
      server = await spawnServer({ TMPDIR: tmpdir, CYPHR_DATA_DIR: undefined, DATABASE_URL: undefined, LOG_LEVEL: "info" }, { cwd: checkout });
      await server.waitUntilReady();
      const user = await registerUser(identityClient("grpc", server.baseUrl), undefined, "Private");
      const { profile } = await identityClient("connect", server.baseUrl).getProfile({ cyphrId: user.cyphrId });
      expect(profile?.displayName).toBe("Private");
      expect(await server.terminate(30_000)).toEqual({ code: 0, signal: null });
      expect(server.stderr()).toBe("");
      // Secrets stay in the private data folder; the cluster is linked from it.
      const dataDir = path.join(checkout, ".cyphr");
      expect((await fs.stat(path.join(dataDir, "pg-password"))).mode & 0o777).toBe(0o600);
      expect(await fs.readlink(path.join(dataDir, "pg"))).toMatch(/^\/var\/lib\/cyphr\/\.cyphr-[0-9a-f]{12}\/pg$/);
    } finally {
      await server?.kill();
    }
  }, 180_000);
});
