import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { type App, createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { type CyphrServer, createServer } from "../../src/server.js";
import { createTestDatabase } from "./database.js";

export interface TestServer {
  app: App;
  server: CyphrServer;
  port: number;
  /** http://127.0.0.1:<port> (https:// with TLS). */
  baseUrl: string;
  databaseUrl: string;
  dataDir: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Reuse a database (e.g. a second instance); default: a fresh copy of the template. */
  databaseUrl?: string;
  /** Reuse a data folder (shares JWT key and fingerprint secret with another instance). */
  dataDir?: string;
  /** Extra environment settings, as the server would read them. */
  env?: Record<string, string>;
}

/** Starts a real Cyphr server on 127.0.0.1, port 0, against a real PostgreSQL. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-data-")));
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    CYPHR_DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    SHUTDOWN_GRACE_MS: "2000",
    ...options.env,
  });
  const app = await createApp(config, pino({ level: config.logLevel }), databaseUrl);
  const server = createServer(app);
  const port = await server.listen(0, "127.0.0.1");
  let closed = false;
  return {
    app,
    server,
    port,
    baseUrl: `${config.tls ? "https" : "http"}://127.0.0.1:${port}`,
    databaseUrl,
    dataDir,
    async close() {
      if (closed) return;
      closed = true;
      await server.shutdown(config.shutdownGraceMs);
      await app.close();
    },
  };
}
