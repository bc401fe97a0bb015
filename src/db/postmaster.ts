import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { isAlive } from "./data-lock.js";
import { EmbeddedStartError, oneLine } from "./embedded-errors.js";
import type { PostgresBinaries } from "./pg-binaries.js";
import { makeOwnedFolder, type RunAs } from "./postgres-user.js";

/** How long a postmaster may take to accept connections (crash recovery included). */
const READY_TIMEOUT_MS = 120_000;
/** After a SIGQUIT (immediate shutdown), how long before SIGKILL. */
const QUIT_TIMEOUT_MS = 5_000;
/** Lines of PostgreSQL's output kept to explain a failed start. */
const KEPT_LINES = 20;

export interface Cluster {
  dir: string;
  binaries: PostgresBinaries;
  runAs: RunAs;
  log: Logger;
}

/** A running postmaster, in a process group of its own. */
export interface Postmaster {
  pid: number;
  /** Settles when the postmaster has exited, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * initdb into a sibling folder, renamed into place once complete, so that an interrupted
 * first start leaves no half-made cluster behind.
 */
export async function initialiseCluster(cluster: Cluster, user: string, password: string): Promise<void> {
  const staging = `${cluster.dir}.init-${randomBytes(4).toString("hex")}`;
  const secrets = `${cluster.dir}.pw-${randomBytes(4).toString("hex")}`;
  try {
    await makeOwnedFolder(staging, cluster.runAs, 0o700);
    await makeOwnedFolder(secrets, cluster.runAs, 0o700);
    const pwfile = path.join(secrets, "pwfile");
    await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (cluster.runAs.ids) await fs.chown(pwfile, cluster.runAs.ids.uid, cluster.runAs.ids.gid);
    const args = [`--pgdata=${staging}`, "--auth=scram-sha-256", `--username=${user}`, `--pwfile=${pwfile}`];
    const child = spawnAs(cluster, cluster.binaries.initdb, [...args, "--encoding=UTF8", "--lc-messages=C"], { detached: false });
    const output = keepOutput(child, cluster.log);
    const { code, signal } = await exitOf(child);
    if (code !== 0) throw new EmbeddedStartError(`initdb failed (${signal ?? `exit ${code}`}): ${output.last()}`);
    await fs.rename(staging, cluster.dir);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
    await fs.rm(secrets, { recursive: true, force: true });
  }
}

/**
 * Starts the postmaster on 127.0.0.1:`port`, detached (its own process group, so a
 * Ctrl-C meant for the server does not reach it), and resolves once it accepts
 * connections, which it records in postmaster.pid.
 */
export async function startPostmaster(cluster: Cluster, port: number): Promise<Postmaster> {
  const args = ["-D", cluster.dir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="];
  const child = spawnAs(cluster, cluster.binaries.postgres, args, { detached: true });
  const output = keepOutput(child, cluster.log);
  const exited = exitOf(child);
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!gone && !(await isReady(cluster.dir, child.pid))) {
    if (Date.now() > deadline) {
      await stopPostmaster({ pid: child.pid!, exited }, QUIT_TIMEOUT_MS);
      throw new EmbeddedStartError(`PostgreSQL did not accept connections within ${READY_TIMEOUT_MS} ms: ${output.last()}`);
    }
    await Promise.race([exited, sleep(50)]);
  }
  if (gone) {
    const { code, signal } = await exited;
    throw new EmbeddedStartError(`PostgreSQL exited during start-up (${signal ?? `exit ${code}`}): ${output.last()}`);
  }
  return { pid: child.pid!, exited };
}

/**
 * Fast shutdown (SIGINT: disconnect clients, checkpoint); after `timeoutMs` an immediate
 * one (SIGQUIT), then SIGKILL to what is left of its process group.
 */
export async function stopPostmaster(postmaster: Postmaster, timeoutMs: number): Promise<void> {
  for (const [signal, wait] of [
    ["SIGINT", timeoutMs],
    ["SIGQUIT", QUIT_TIMEOUT_MS],
  ] as const) {
    signalProcess(postmaster.pid, signal);
    if (await settlesWithin(postmaster.exited, wait)) return;
  }
  signalGroup(postmaster.pid, "SIGKILL");
  await postmaster.exited;
}

/**
 * What a dead postmaster leaves: its backends, still attached to the shared memory a new
 * postmaster refuses to share. They are in its process group; end them.
 */
export async function endOrphanedBackends(postmasterPid: number): Promise<void> {
  signalGroup(postmasterPid, "SIGQUIT");
  const deadline = Date.now() + QUIT_TIMEOUT_MS;
  while (groupExists(postmasterPid) && Date.now() < deadline) await sleep(50);
  if (groupExists(postmasterPid)) signalGroup(postmasterPid, "SIGKILL");
}

/**
 * A postmaster still running on the cluster although its owner is gone (the data folder's
 * lock was free): stop it the same way. Only a pid whose command line names postgres.
 */
export async function stopOrphanedPostmaster(cluster: Cluster, timeoutMs: number): Promise<void> {
  const pid = Number((await fs.readFile(path.join(cluster.dir, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !(await isRunning(pid)) || !(await isPostgres(pid))) return;
  const parent = await liveNodeParentOf(pid);
  if (parent !== undefined) {
    throw new EmbeddedStartError(
      `the PostgreSQL on ${cluster.dir} (pid ${pid}) was started by process ${parent}, which still runs (a Cyphr server from before data-folder locks?): stop it first`,
    );
  }
  cluster.log.warn({ pid }, "stopping a PostgreSQL left running on this data folder by a server that is gone");
  const exited = (async () => {
    while (await isRunning(pid)) await sleep(50);
  })();
  signalProcess(pid, "SIGINT");
  if (!(await settlesWithin(exited, timeoutMs))) signalProcess(pid, "SIGQUIT");
  if (!(await settlesWithin(exited, QUIT_TIMEOUT_MS))) signalProcess(pid, "SIGKILL");
  await exited;
  await endOrphanedBackends(pid);
}

function spawnAs(cluster: Cluster, program: string, args: string[], options: { detached: boolean }): ChildProcess {
  return spawn(program, args, {
    ...cluster.runAs.ids,
    detached: options.detached,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
}

/** Output goes to debug logs; the last lines explain a failure. */
function keepOutput(child: ChildProcess, log: Logger): { last(): string } {
  const lines: string[] = [];
  let spawnError: Error | undefined;
  child.once("error", (error) => (spawnError = error));
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      log.debug({ postgres: line.trim() }, "postgres");
      lines.push(line.trim());
      if (lines.length > KEPT_LINES) lines.shift();
    }
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  return {
    last: () => oneLine(spawnError?.message ?? (lines.filter((l) => /FATAL|ERROR|PANIC|error/i.test(l)).join("\n") || lines.slice(-3).join("\n"))),
  };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    child.once("error", () => resolve({ code: -1, signal: null }));
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

async function isReady(clusterDir: string, pid: number | undefined): Promise<boolean> {
  const lines = (await fs.readFile(path.join(clusterDir, "postmaster.pid"), "utf8").catch(() => "")).split("\n");
  return Number(lines[0]) === pid && lines[7]?.trim() === "ready";
}

async function isPostgres(pid: number): Promise<boolean> {
  if (process.platform !== "linux") return true;
  return (await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).includes("postgres");
}

/**
 * The parent of a postmaster whose owner died is init or a subreaper; a parent that is a
 * running Node.js process is a server that did not take the data folder's lock.
 */
async function liveNodeParentOf(pid: number): Promise<number | undefined> {
  if (process.platform !== "linux") return undefined;
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  if (!Number.isInteger(parent) || parent <= 1 || parent === process.pid || !(await isRunning(parent))) return undefined;
  const command = await fs.readFile(`/proc/${parent}/cmdline`, "utf8").catch(() => "");
  return /(^|\/)node\0/.test(command) ? parent : undefined;
}

/** Alive and not a zombie (an orphan reparented to a pid 1 that does not reap). */
async function isRunning(pid: number): Promise<boolean> {
  if (!isAlive(pid)) return false;
  if (process.platform !== "linux") return true;
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Gone already.
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  signalProcess(-pid, signal);
}

function groupExists(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true), sleep(ms).then(() => false)]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
