import fs from "node:fs/promises";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { isRunning, makeDataDir, postmasterOf, type ServerProcess, spawnServer, waitFor, withTimeout } from "./helpers/process.js";
import { registerUser } from "./helpers/users.js";

/**
 * One server per data folder (issue 9, item 11): a second start on a folder or port in
 * use is refused with one line, and never disturbs the server already running there.
 */

const dirs: string[] = [];
const running: ServerProcess[] = [];

async function dataDir(): Promise<string> {
  const dir = await makeDataDir("cyphr-lock-");
  dirs.push(dir);
  return dir;
}

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const server = await spawnServer({ DATABASE_URL: undefined, LOG_LEVEL: "info", ...env });
  running.push(server);
  return server;
}

/** The refused start: exit 1 and a single line on stderr, no stack trace. */
async function expectRefused(server: ServerProcess, pattern: RegExp): Promise<void> {
  expect(await withTimeout(server.exited, 60_000, "the second server did not exit")).toEqual({ code: 1, signal: null });
  const lines = server.stderr().trimEnd().split("\n");
  expect(lines, server.stderr()).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

async function expectServing(server: ServerProcess): Promise<void> {
  expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
  await expect(registerUser(identityClient("grpc", server.baseUrl))).resolves.toBeDefined();
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.kill()));
});
afterAll(async () => {
  await Promise.all(dirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

let shared: string;
beforeEach(async () => {
  shared = await dataDir();
});

describe("a second server", () => {
  it("on the same data folder is refused with one line and exit 1, and the first keeps serving on its own PostgreSQL", async () => {
    const first = await start({ CYPHR_DATA_DIR: shared });
    await first.waitUntilReady();
    const before = await postmasterOf(shared);

    const second = await start({ CYPHR_DATA_DIR: shared });
    await expectRefused(second, new RegExp(`^cyphr failed to start: the data folder ${shared} is in use by process ${first.child.pid} `));

    expect(await postmasterOf(shared)).toEqual(before);
    expect(isRunning(before!.pid)).toBe(true);
    await expectServing(first);
  }, 180_000);

  it("on the same port is refused before PostgreSQL is touched, and the first keeps serving", async () => {
    const first = await start({ CYPHR_DATA_DIR: shared });
    await first.waitUntilReady();

    const fresh = await dataDir();
    const second = await start({ CYPHR_DATA_DIR: fresh, PORT: String(first.port) });
    await expectRefused(second, new RegExp(`^cyphr failed to start: port ${first.port} on 127\\.0\\.0\\.1 is already in use`));

    // No cluster was initialised, no secret written, nothing locked.
    expect(await fs.readdir(fresh)).toEqual([]);
    await expectServing(first);
  }, 180_000);
});

describe("a running PostgreSQL whose owner is not provably gone", () => {
  it("is left alone even without a lock file (a server from before locks): the second start is refused", async () => {
    const first = await start({ CYPHR_DATA_DIR: shared });
    await first.waitUntilReady();
    const before = await postmasterOf(shared);
    await fs.rm(`${shared}/cyphr.lock`);

    const second = await start({ CYPHR_DATA_DIR: shared });
    await expectRefused(second, new RegExp(`\\(pid ${before!.pid}\\) was started by process ${first.child.pid}, which still runs`));
    expect(await postmasterOf(shared)).toEqual(before);
    await expectServing(first);
  }, 180_000);
});

describe("two servers started at once on a fresh data folder", () => {
  it("exactly one serves; the other is refused with one line", async () => {
    const [a, b] = await Promise.all([start({ CYPHR_DATA_DIR: shared }), start({ CYPHR_DATA_DIR: shared })]);
    const outcomes = await Promise.all(
      [a, b].map((server) =>
        server.waitUntilReady().then(
          () => "serving",
          () => "refused",
        ),
      ),
    );
    expect([...outcomes].sort()).toEqual(["refused", "serving"]);
    const [refused, serving] = outcomes[0] === "refused" ? [a, b] : [b, a];
    await expectRefused(refused!, /^cyphr failed to start: the data folder .* is in use by process \d+ /);
    await expectServing(serving!);
  }, 180_000);
});

describe("after a server was killed (SIGKILL, no cleanup)", () => {
  it("the next start takes over its lock, stops the PostgreSQL it left running, and serves the same data", async () => {
    const first = await start({ CYPHR_DATA_DIR: shared });
    await first.waitUntilReady();
    const user = await registerUser(identityClient("grpc", first.baseUrl), undefined, "Survivor");
    const orphan = (await postmasterOf(shared))!;
    first.child.kill("SIGKILL");
    await first.exited;
    // PostgreSQL runs in its own process group: it outlives the server it belonged to.
    expect(isRunning(orphan.pid)).toBe(true);

    const next = await start({ CYPHR_DATA_DIR: shared });
    await next.waitUntilReady();
    await waitFor(() => !isRunning(orphan.pid), 10_000, "the orphaned postmaster is still running");
    expect((await postmasterOf(shared))?.pid).not.toBe(orphan.pid);
    const { profile } = await identityClient("connect", next.baseUrl).getProfile({ cyphrId: user.cyphrId });
    expect(profile?.displayName).toBe("Survivor");
    expect(next.stdout()).toContain("stopping a PostgreSQL left running on this data folder by a server that is gone");
  }, 180_000);
});
