import fs from "node:fs/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { isRunning, logMessages, makeDataDir, postmasterOf, type ServerProcess, spawnServer, waitFor, withTimeout } from "./helpers/process.js";
import { subscribe } from "./helpers/realtime.js";
import { registerUser } from "./helpers/users.js";

/**
 * Ctrl-C (issue 9, item 13): the terminal sends SIGINT to the whole foreground process
 * group. The embedded PostgreSQL runs in a group of its own, so it is still there for the
 * graceful drain, and is stopped last.
 */

let dataDir: string;
const running: ServerProcess[] = [];

beforeAll(async () => {
  dataDir = await makeDataDir("cyphr-sigint-");
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.kill()));
});
afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("SIGINT to the server's whole process group (Ctrl-C)", () => {
  it("drains with the database still up, logs 'stopped', exits 0, and stops PostgreSQL afterwards", async () => {
    const server = await spawnServer({ CYPHR_DATA_DIR: dataDir, DATABASE_URL: undefined, LOG_LEVEL: "info" });
    running.push(server);
    await server.waitUntilReady();
    const postmaster = (await postmasterOf(dataDir))!;
    // An open event stream: its end during the drain needs the database (presence, the event bus).
    const user = await registerUser(identityClient("grpc", server.baseUrl));
    const stream = subscribe(server.baseUrl, user.accessToken);
    await stream.caughtUp();

    process.kill(-server.child.pid!, "SIGINT");

    expect(await withTimeout(server.exited, 30_000, "no exit after SIGINT"), server.stderr()).toEqual({ code: 0, signal: null });
    // The drain ended the stream.
    await stream.end(10_000);
    const messages = logMessages(server.stdout());
    expect(messages).toContain("shutting down");
    expect(messages).toContain("stopped");
    expect(messages).not.toContain("event bus lost its LISTEN connection; reconnecting");
    await waitFor(() => !isRunning(postmaster.pid), 10_000, "the postmaster outlived the server");
    await expect(fs.access(`${dataDir}/pg/postmaster.pid`)).rejects.toThrow();
  }, 180_000);
});
