import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { freePort } from "../../src/db/free-port.js";
import { postgresBinaries } from "../../src/db/pg-binaries.js";
import { postgresRunAs } from "../../src/db/postgres-user.js";

/**
 * A PostgreSQL of a test file's own, which the test may crash and start again on the same
 * port (the server under test keeps its URL). Controlled with the real pg_ctl, as an
 * operator would: `crash()` is `pg_ctl stop -m immediate` (every backend is killed at
 * once, no shutdown checkpoint; the next start runs crash recovery).
 */
export interface KillablePostgres {
  /** Trust-authenticated URL of its `postgres` database. */
  url: string;
  crash(): Promise<void>;
  start(): Promise<void>;
  /** Fast shutdown (if running) and removal of its folder. */
  destroy(): Promise<void>;
}

export async function startKillablePostgres(): Promise<KillablePostgres> {
  // Tests run as root in CI; PostgreSQL refuses root and runs as the OS user postgres, from
  // binaries it can reach (a copy when the checkout is in a private folder), as the server's own.
  const { ids } = await postgresRunAs();
  const runAs: { uid?: number; gid?: number } = ids ?? {};
  const bin = path.dirname((await postgresBinaries({ ids }, pino({ level: "silent" }))).initdb);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-killable-pg-"));
  await fs.chmod(dir, 0o711);
  const cluster = path.join(dir, "pg");
  await fs.mkdir(cluster, { mode: 0o700 });
  if (runAs.uid !== undefined && runAs.gid !== undefined) await fs.chown(cluster, runAs.uid, runAs.gid);
  const port = await freePort([]);
  const run = (program: string, args: string[]) => runProgram(path.join(bin, program), args, runAs);

  await run("initdb", ["-D", cluster, "-U", "cyphr", "--auth=trust", "--encoding=UTF8", "--no-sync"]);
  const start = () =>
    run("pg_ctl", [
      "start",
      "-w",
      "-D",
      cluster,
      "-l",
      path.join(cluster, "server.log"),
      "-o",
      `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off`,
    ]);
  let running = false;
  await start();
  running = true;
  return {
    url: `postgres://cyphr@127.0.0.1:${port}/postgres`,
    async crash() {
      await run("pg_ctl", ["stop", "-w", "-m", "immediate", "-D", cluster]);
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async destroy() {
      if (running) await run("pg_ctl", ["stop", "-w", "-m", "fast", "-D", cluster]);
      running = false;
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

function runProgram(program: string, args: string[], runAs: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { ...runAs, cwd: os.tmpdir(), stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(program)} ${args[0]} exited with ${code}: ${stderr.trim()}`))));
  });
}
