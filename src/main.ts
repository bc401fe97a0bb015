import { boot, shutDownOnSignals } from "./boot.js";
import { createServer } from "./server.js";

/** Reads config, starts (embedded) Postgres, migrates, serves, and shuts down gracefully. */
async function main(): Promise<void> {
  const booted = await boot();
  const { config, log, app, embedded } = booted;
  const server = createServer(app);
  let port: number;
  try {
    port = await server.listen(config.port);
  } catch (error) {
    await app.close();
    await embedded?.stop();
    throw error;
  }
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
  // One line, no stack trace: the messages say what to do.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`cyphr failed to start: ${message.replace(/\s*\n\s*/g, "; ")}\n`);
  process.exit(1);
});
