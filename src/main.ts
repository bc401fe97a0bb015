import { boot, shutDownOnSignals } from "./boot.js";
import { createServer } from "./server.js";

/** Reads config, starts (embedded) Postgres, migrates, serves, and shuts down gracefully. */
async function main(): Promise<void> {
  const booted = await boot();
  const { config, log, embedded } = booted;
  const server = createServer(booted.app);
  const port = await server.listen(config.port);
  log.info(
    {
      port,
      tls: config.tls !== undefined,
      embeddedPostgres: embedded !== undefined,
      migrationsApplied: booted.migrationsApplied,
      startupMs: Math.round(performance.now() - booted.started),
    },
    "cyphr serving gRPC, gRPC-Web and Connect",
  );
  shutDownOnSignals(booted, () => server.shutdown(config.shutdownGraceMs));
}

main().catch((error: unknown) => {
  process.stderr.write(`cyphr failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
