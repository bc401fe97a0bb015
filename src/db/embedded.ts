import fs from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import type { Logger } from "pino";
import { readOrCreateSecret } from "../shared/secret-files.js";
import { clusterFolder, removeLeftovers } from "./cluster-folder.js";
import { lockDataFolder } from "./data-lock.js";
import { EmbeddedStartError } from "./embedded-errors.js";
import { freePort } from "./free-port.js";
import { postgresBinaries } from "./pg-binaries.js";
import { postgresRunAs } from "./postgres-user.js";
import { type Cluster, initialiseCluster, type Postmaster, startPostmaster, stopOrphanedPostmaster } from "./postmaster.js";
import { superviseRestarts } from "./restarts.js";

/** A PostgreSQL server started by this process, with the URL to reach it. */
export interface EmbeddedDatabase {
  url: string;
  /** Settles when PostgreSQL died and could not be restarted; the process should exit non-zero. */
  lost: Promise<Error>;
  /** Stops PostgreSQL (fast shutdown) and releases the data folder. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Ports never chosen: the server's own may be free now, but the server is about to listen on it. */
  avoidPorts?: readonly number[];
  /** Restarts tried after PostgreSQL dies, before `lost` settles. */
  restarts?: number;
  /** How long a fast shutdown may take before an immediate one. */
  stopTimeoutMs?: number;
}

const DATABASE_NAME = "cyphr";
const USER = "cyphr";

/**
 * Starts (initialising on first use) a real PostgreSQL server for `dataDir`, on a free
 * loopback port, authenticated by a password generated once and kept in
 * `<dataDir>/pg-password` (mode 0600). The data folder is locked for this process's life:
 * a second server on it is refused before anything is touched, and a postmaster still
 * running on the cluster is stopped only once the lock proves its owner gone.
 *
 * PostgreSQL runs in a process group of its own (signals meant for the server do not
 * reach it; it is stopped last) and is restarted on the same port if it dies.
 *
 * As root, PostgreSQL runs as the OS user `postgres`; see cluster-folder.ts and
 * pg-binaries.ts for how it reaches its files from a private checkout.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  await fs.mkdir(dataDir, { recursive: true, mode: 0o711 });
  const lock = await lockDataFolder(dataDir);
  try {
    const runAs = await postgresRunAs();
    const cluster: Cluster = {
      dir: await clusterFolder(dataDir, runAs, log),
      binaries: await postgresBinaries(runAs, log),
      runAs,
      log,
    };
    const password = await readOrCreateSecret(path.join(dataDir, "pg-password"));
    await stopOrphanedPostmaster(cluster, stopTimeoutMs);
    await removeLeftovers(cluster.dir);
    if (!(await exists(path.join(cluster.dir, "PG_VERSION")))) await initialiseCluster(cluster, USER, password);
    const { postmaster, port } = await startOnFreePort(cluster, options.avoidPorts ?? []);
    const supervisor = superviseRestarts(cluster, postmaster, port, { restarts: options.restarts ?? 5, stopTimeoutMs });
    // Last resort if the process exits without stop(): signal PostgreSQL synchronously.
    const stopOnExit = () => supervisor.signalOnExit();
    process.once("exit", stopOnExit);
    try {
      await ensureDatabase(port, password);
    } catch (error) {
      await supervisor.stop();
      throw error;
    }
    log.info({ port, dataDir: cluster.dir }, "embedded postgres started");
    return {
      url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`,
      lost: supervisor.lost,
      stop: async () => {
        await supervisor.stop();
        process.off("exit", stopOnExit);
        lock.release();
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function startOnFreePort(cluster: Cluster, avoidPorts: readonly number[]): Promise<{ postmaster: Postmaster; port: number }> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort(avoidPorts);
    try {
      return { postmaster: await startPostmaster(cluster, port), port };
    } catch (error) {
      lastError = error;
      cluster.log.warn({ attempt, port, err: { message: (error as Error).message } }, "embedded postgres did not start; retrying on another port");
    }
  }
  throw new EmbeddedStartError(`embedded PostgreSQL failed to start in ${cluster.dir}: ${(lastError as Error).message}`);
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: USER, password, database: "postgres" });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE_NAME]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
