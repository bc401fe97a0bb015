import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The real entry points run as child processes, as an operator runs them: `node --import
 * ./src/runtime/register.mjs src/main.ts` (what `npm start` does, without npm's extra
 * process in between, so signals reach the server itself).
 */

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** What `npm start` runs the sources with. */
const RUNTIME = new URL("../../src/runtime/register.mjs", import.meta.url).href;

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
  /** Last resort for cleanup: SIGTERM, then SIGKILL to its process group and to its children's (Postgres has its own). */
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

/** Starts `src/main.ts` on 127.0.0.1:<a free port, unless env says PORT>, from `cwd` (default: this checkout). */
export async function spawnServer(env: Record<string, string | undefined>, options: { cwd?: string } = {}): Promise<ServerProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const { child, stdout, stderr, exited } = spawnScript("src/main.ts", { HOST: "127.0.0.1", PORT: String(port), ...env }, options.cwd);
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
      if (!done && child.pid) killTree(child.pid);
    },
  };
}

export interface ScriptResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript entry point to completion. */
export async function runScript(script: string, env: Record<string, string | undefined>, timeoutMs = 60_000, cwd = REPO_ROOT): Promise<ScriptResult> {
  const { child, stdout, stderr, exited } = spawnScript(script, env, cwd);
  try {
    const exit = await withTimeout(exited, timeoutMs, `${script} did not finish within ${timeoutMs} ms`);
    return { ...exit, stdout: stdout(), stderr: stderr() };
  } catch (error) {
    if (child.pid) killTree(child.pid);
    throw error;
  }
}

function spawnScript(script: string, env: Record<string, string | undefined>, cwd = REPO_ROOT) {
  const child = spawn(process.execPath, ["--enable-source-maps", "--import", RUNTIME, script], {
    cwd,
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

/** The `msg` of every JSON log line a process wrote. */
export function logMessages(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

/** The pid and port of the postmaster running on `<dataDir>/pg`, from its postmaster.pid; undefined when there is none. */
export async function postmasterOf(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const text = await fs.readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const lines = text.split("\n");
  return { pid: Number(lines[0]), port: Number(lines[3]) };
}

/** SIGKILL to the process group of `pid` and to the group of each of its children (the postmaster leads its own). */
function killTree(pid: number): void {
  const children = childrenOf(pid);
  for (const target of [pid, ...children]) {
    for (const victim of [-target, target]) {
      try {
        process.kill(victim, "SIGKILL");
      } catch {
        // Not a group leader, or gone already.
      }
    }
  }
}

function childrenOf(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  return entries.map(Number).filter((candidate) => {
    const stat = readProcStat(candidate);
    return stat !== undefined && Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
  });
}

/** Whether a process with this pid exists (a zombie counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = readProcStat(pid);
  return stat === undefined || stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

function readProcStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
}

/** Polls `condition` every 100 ms until it holds; fails with `message` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(message);
    await sleep(100);
  }
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
