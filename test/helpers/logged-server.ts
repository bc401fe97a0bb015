import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createServer } from "../../src/server.js";
import { createTestDatabase } from "./database.js";
import type { TestServer } from "./server.js";

/** One JSON log line of the server. */
export interface LogLine {
  level: number;
  msg?: string;
  method?: string;
  code?: string;
  durationMs?: number;
  [key: string]: unknown;
}

export interface LoggedServer extends TestServer {
  /** Every line logged so far, parsed. */
  logs: LogLine[];
  /** The raw log text so far. */
  logText(): string;
  /** The "rpc" lines for `method` ("pkg.Service/Method"). */
  rpcLines(method: string): LogLine[];
  /** Waits until `count` "rpc" lines for `method` were logged (they are written when a response closes). */
  waitForRpcLines(method: string, count: number, timeoutMs?: number): Promise<LogLine[]>;
}

/** Like startTestServer, with the server's log lines (level info) kept for the test to read. */
export async function startLoggedServer(env: Record<string, string> = {}): Promise<LoggedServer> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-data-"));
  const databaseUrl = await createTestDatabase();
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", CYPHR_DATA_DIR: dataDir, LOG_LEVEL: "info", SHUTDOWN_GRACE_MS: "2000", ...env });
  let text = "";
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString("utf8");
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const app = await createApp(config, pino({ level: "info" }, sink), databaseUrl);
  const server = createServer(app);
  const port = await server.listen(0, "127.0.0.1");
  let closed = false;
  const rpcLines = (method: string) => logs.filter((line) => line.msg === "rpc" && line.method === method);
  return {
    app,
    server,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    databaseUrl,
    dataDir,
    logs,
    logText: () => text,
    rpcLines,
    async waitForRpcLines(method, count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (rpcLines(method).length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return rpcLines(method);
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.shutdown(config.shutdownGraceMs);
      await app.close();
    },
  };
}
