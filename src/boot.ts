import net from "node:net";
import os from "node:os";
import type { Logger } from "pino";
import { type App, createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./db/embedded.js";
import { migrate } from "./db/migrate.js";
import { createLogger } from "./log.js";

/** What an entry point has once the app is built, before it serves. */
export interface Booted {
  config: Config;
  log: Logger;
  app: App;
  embedded: EmbeddedDatabase | undefined;
  migrationsApplied: number;
  /** performance.now() when booting began. */
  started: number;
}

/** A start-up failure whose message says what to do; entry points print it as one line. */
export class StartError extends Error {
  override name = "StartError";
}

/**
 * Reads config (exit 2 with every problem on stderr when invalid), checks that the port
 * is free, starts the embedded PostgreSQL unless DATABASE_URL is set, applies migrations
 * and builds the app. On failure after PostgreSQL started, it is stopped again.
 */
export async function boot(): Promise<Booted> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const started = performance.now();
  // Until shutDownOnSignals takes over: exit at once, and the 'exit' hooks stop PostgreSQL.
  process.once("SIGINT", exitDuringBoot);
  process.once("SIGTERM", exitDuringBoot);
  // Before PostgreSQL is touched: a server already on this port is not disturbed.
  await assertPortFree(config.host, config.port);
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(config.dataDir, log, {
        avoidPorts: [config.port],
        restarts: config.embeddedPostgresRestarts,
        stopTimeoutMs: config.embeddedPostgresStopTimeoutMs,
      });
  const databaseUrl = config.databaseUrl ?? embedded!.url;
  try {
    const applied = await migrate(databaseUrl, {
      settings: { message_partitions: String(config.messagePartitions) },
      log: (m) => log.info(m),
    });
    const app = await createApp(config, log, databaseUrl);
    return { config, log, app, embedded, migrationsApplied: applied.length, started };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

/**
 * On the first SIGINT or SIGTERM: `stopServing`, then close the app and stop the embedded
 * PostgreSQL last; exit 0, or 1 if any of it failed. When the embedded PostgreSQL died and
 * could not be restarted, the same shutdown runs and the exit code is 1, so that a
 * supervisor starts the server again.
 */
export function shutDownOnSignals(booted: Booted, stopServing: () => Promise<void>): void {
  const { config, log, app, embedded } = booted;
  process.off("SIGINT", exitDuringBoot);
  process.off("SIGTERM", exitDuringBoot);
  let stopping = false;
  const stop = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, "shutting down");
    try {
      await stopServing();
      await app.close();
      await embedded?.stop();
      log.info("stopped");
      process.exit(exitCode);
    } catch (err) {
      log.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT", 0));
  process.on("SIGTERM", () => void stop("SIGTERM", 0));
  void embedded?.lost.then(() => {
    // Without its database the drain may hang on calls that wait for it: bound it.
    setTimeout(() => process.exit(1), config.shutdownGraceMs + config.embeddedPostgresStopTimeoutMs).unref();
    void stop("embedded PostgreSQL lost", 1);
  });
}

function exitDuringBoot(signal: NodeJS.Signals): void {
  process.exit(128 + (os.constants.signals[signal] ?? 0));
}

/** Listens on the port for a moment; a clear error if another process holds it. */
async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "is already in use (another server running?)" : `cannot be used (${error.code ?? error.message})`;
      reject(new StartError(`port ${port} on ${host} ${why}: stop that process, or set PORT to another port`));
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
