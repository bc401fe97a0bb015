import { createApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "./db/embedded.js";
import { migrate } from "./db/migrate.js";
import { createLogger } from "./log.js";
import { createServer } from "./server.js";

/** Reads config, starts (embedded) Postgres, migrates, serves, and shuts down gracefully. */
async function main(): Promise<void> {
  let config;
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
  const server = createServer(app);
  const port = await server.listen(config.port);
  log.info(
    { port, tls: config.tls !== undefined, embeddedPostgres: embedded !== undefined, migrationsApplied: applied.length, startupMs: Math.round(performance.now() - started) },
    "cyphr serving gRPC, gRPC-Web and Connect",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    try {
      await server.shutdown(config.shutdownGraceMs);
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

main().catch((error: unknown) => {
  process.stderr.write(`cyphr failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
