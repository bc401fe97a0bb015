import type { Logger } from "pino";
import { createApp, type App } from "./app.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./db/embedded.js";
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

/**
 * Reads config (exit 2 with every problem on stderr when invalid), starts the embedded
 * PostgreSQL unless DATABASE_URL is set, applies migrations and builds the app.
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
  let embedded: EmbeddedDatabase | undefined;
  const databaseUrl = config.databaseUrl ?? (embedded = await startEmbeddedPostgres(config.dataDir, log, { avoidPorts: [config.port] })).url;
  const applied = await migrate(databaseUrl, {
    settings: { message_partitions: String(config.messagePartitions) },
    log: (m) => log.info(m),
  });
  const app = await createApp(config, log, databaseUrl);
  return { config, log, app, embedded, migrationsApplied: applied.length, started };
}

/**
 * On the first SIGINT or SIGTERM: `stopServing`, then close the app and stop the embedded
 * PostgreSQL; exit 0, or 1 if any of it failed.
 */
export function shutDownOnSignals(booted: Booted, stopServing: () => Promise<void>): void {
  const { log, app, embedded } = booted;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    try {
      await stopServing();
      await app.close();
      await embedded?.stop();
      log.info("stopped");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}
