import fs from "node:fs/promises";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { isRunning, logMessages, makeDataDir, postmasterOf, type ServerProcess, spawnServer, waitFor, withTimeout } from "./helpers/process.js";
import { registerUser } from "./helpers/users.js";

/**
 * The embedded PostgreSQL dies under a running server (issue 9, item 15): the server
 * restarts it on the same port and recovers by itself, or, when the restarts are used up,
 * exits non-zero so that a supervisor starts it again. Never up and unready for ever.
 */

const dirs: string[] = [];
const running: ServerProcess[] = [];

async function start(env: Record<string, string> = {}): Promise<{ server: ServerProcess; dataDir: string }> {
  const dataDir = await makeDataDir("cyphr-restart-");
  dirs.push(dataDir);
  const server = await spawnServer({ CYPHR_DATA_DIR: dataDir, DATABASE_URL: undefined, LOG_LEVEL: "info", ...env });
  running.push(server);
  await server.waitUntilReady();
  return { server, dataDir };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.kill()));
});
afterAll(async () => {
  await Promise.all(dirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

describe("kill -9 of the embedded postmaster", () => {
  it("is followed by a restart on the same port: /readyz answers 200 again and RPCs succeed, data intact", async () => {
    const { server, dataDir } = await start();
    const before = await registerUser(identityClient("grpc", server.baseUrl), undefined, "Before");
    const killed = (await postmasterOf(dataDir))!;

    process.kill(killed.pid, "SIGKILL");
    await waitFor(() => !isRunning(killed.pid), 10_000, "the postmaster survived SIGKILL");
    await waitFor(
      async () => (await postmasterOf(dataDir))?.pid !== killed.pid && (await fetch(`${server.baseUrl}/readyz`)).status === 200,
      60_000,
      `not ready again after the postmaster was killed; stdout:\n${server.stdout()}`,
    );

    const restarted = (await postmasterOf(dataDir))!;
    expect(restarted.port).toBe(killed.port);
    expect(isRunning(restarted.pid)).toBe(true);
    const identity = identityClient("connect", server.baseUrl);
    await waitFor(
      () =>
        identity.getProfile({ cyphrId: before.cyphrId }).then(
          () => true,
          () => false,
        ),
      30_000,
      "GetProfile keeps failing after the restart",
    );
    expect((await identity.getProfile({ cyphrId: before.cyphrId })).profile?.displayName).toBe("Before");
    await expect(registerUser(identityClient("grpc", server.baseUrl), undefined, "After")).resolves.toBeDefined();
    const messages = logMessages(server.stdout());
    expect(messages).toContain("embedded PostgreSQL exited unexpectedly; restarting it on the same port");
    expect(messages).toContain("embedded PostgreSQL restarted");
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);

    expect(await server.terminate(30_000)).toEqual({ code: 0, signal: null });
    expect(isRunning(restarted.pid)).toBe(false);
  }, 180_000);

  it("with its restarts used up (EMBEDDED_POSTGRES_RESTARTS=0), the server shuts down and exits 1", async () => {
    const { server, dataDir } = await start({ EMBEDDED_POSTGRES_RESTARTS: "0" });
    const killed = (await postmasterOf(dataDir))!;

    process.kill(killed.pid, "SIGKILL");

    expect(await withTimeout(server.exited, 60_000, "the server stayed up without its database")).toEqual({ code: 1, signal: null });
    const messages = logMessages(server.stdout());
    expect(messages).toContain("embedded PostgreSQL could not be restarted; giving up");
    // The ordinary shutdown ran (whatever the event bus logged while the database was gone).
    expect(messages, server.stdout()).toContain("shutting down");
    expect(messages, server.stdout()).toContain("stopped");
    expect(server.stderr()).toBe("");
  }, 180_000);
});
