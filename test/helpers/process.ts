import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The real entry points run as child processes, as an operator runs them: `node --import
 * tsx src/main.ts` (what `npm start` does, without npm's extra process in between, so
 * signals reach the server itself).
 */

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  baseUrl: string;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Polls GET /readyz until it answers 200; fails early if the process exits. */
  waitUntilReady(timeoutMs?: number): Promise<void>;
  /** Sends SIGTERM and waits for the exit, failing after `timeoutMs`. */
  terminate(timeoutMs?: number): Promise<Exit>;
  /** Last resort for cleanup: SIGTERM, then SIGKILL to the whole process group (Postgres included). */
  kill(): Promise<void>;
}

/** Environment for a child: the test runner's, minus DATABASE_URL, plus `env` (undefined deletes). */
export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...process.env };
  delete result.DATABASE_URL;
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete result[name];
    else result[name] = value;
  }
  return result;
}

/** Starts `src/main.ts` on 127.0.0.1:<a free port>. */
export async function spawnServer(env: Record<string, string | undefined>): Promise<ServerProcess> {
  const port = await freePort();
  const { child, stdout, stderr, exited } = spawnScript("src/main.ts", { HOST: "127.0.0.1", PORT: String(port), ...env });
  const baseUrl = `http://127.0.0.1:${port}`;
  let exit: Exit | undefined;
  void exited.then((e) => (exit = e));
  const describeExit = () => `server exited (${JSON.stringify(exit)}); stderr:\n${stderr()}\nstdout:\n${stdout()}`;
  return {
    child,
    port,
    baseUrl,
    stdout,
    stderr,
    exited,
    async waitUntilReady(timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exit) throw new Error(describeExit());
        const status = await fetch(`${baseUrl}/readyz`).then(
          (res) => res.status,
          () => 0,
        );
        if (status === 200) return;
        if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms; stderr:\n${stderr()}`);
        await sleep(100);
      }
    },
    async terminate(timeoutMs = 15_000) {
      if (exit) return exit;
      child.kill("SIGTERM");
      return withTimeout(exited, timeoutMs, `server did not exit within ${timeoutMs} ms of SIGTERM`);
    },
    async kill() {
      if (exit) return;
      child.kill("SIGTERM");
      const done = await withTimeout(exited, 20_000, "").catch(() => undefined);
      if (!done && child.pid) process.kill(-child.pid, "SIGKILL");
    },
  };
}

export interface ScriptResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript entry point to completion. */
export async function runScript(script: string, env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<ScriptResult> {
  const { child, stdout, stderr, exited } = spawnScript(script, env);
  try {
    const exit = await withTimeout(exited, timeoutMs, `${script} did not finish within ${timeoutMs} ms`);
    return { ...exit, stdout: stdout(), stderr: stderr() };
  } catch (error) {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
    throw error;
  }
}

function spawnScript(script: string, env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so cleanup can also reach the Postgres it starts.
    detached: true,
  });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exit = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  // The pipes may still hold the last lines when 'exit' fires; 'close' follows once they drain.
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const exited = exit.then(async (result) => {
    await Promise.race([closed, sleep(2_000)]);
    return result;
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** A fresh data folder under the temp dir, mode 0711: as root, embedded Postgres runs as "postgres" and must enter it. */
export async function makeDataDir(prefix = "cyphr-proc-"): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o711);
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
