import { ConfigError, loadConfig } from "../config.js";
import { createLogger } from "../log.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { migrate } from "./migrate.js";

/** `npm run migrate`: apply pending migrations to DATABASE_URL (or the embedded database) and exit. */
try {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir, log, { avoidPorts: [config.port] });
  try {
    const applied = await migrate(config.databaseUrl ?? embedded!.url, {
      settings: { message_partitions: String(config.messagePartitions) },
      log: (m) => log.info(m),
    });
    log.info({ applied: applied.length }, applied.length ? "migrations applied" : "database already up to date");
  } finally {
    await embedded?.stop();
  }
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : `migration failed: ${(error as Error).message}`}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
