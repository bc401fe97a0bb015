import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { connection } from "./rpc.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PROBE = path.join(REPO_ROOT, "src/bench/server-probe.ts");
const ENTRY_POINT = path.join(REPO_ROOT, "src/main.ts");
/** What `npm start` runs the sources with (src/runtime/register.mjs). */
export const RUNTIME = pathToFileURL(path.join(REPO_ROOT, "src/runtime/register.mjs")).href;

export interface ServerStats {
  memory: NodeJS.MemoryUsage;
  cpu: NodeJS.CpuUsage;
  eventLoopUtilization: number;
}

/** One Cyphr server process started by the harness. */
export interface ServerProcess {
  pid: number;
  port: number;
  baseUrl: string;
  /** Milliseconds from spawning the process to grpc.health.v1 SERVING. */
  startupMs: number;
  /** The server's own "startupMs" log field (main() start to listening), when logged. */
  inProcessStartupMs: number | undefined;
  /** Memory, CPU and event-loop use, from the preloaded probe; `gc` collects garbage first. */
  stats(gc?: boolean): Promise<ServerStats>;
  /** Writes a V8 heap snapshot of the server to `file`. */
  heapSnapshot(file: string): Promise<void>;
  /** SIGTERM and wait for exit; resolves with milliseconds to exit. */
  stop(): Promise<number>;
  exited: Promise<number | null>;
}

export interface ServerSettings {
  dataDir: string;
  databaseUrl?: string;
  logLevel: string;
  env: Record<string, string>;
  /** Folder for V8 CPU profiles (--cpu-prof), written when the server exits. */
  cpuProfileDir?: string;
}

/** A fresh data folder reachable by the OS user postgres (embedded PostgreSQL runs as it when we are root). */
export function makeDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cyphr-bench-"));
  fs.chmodSync(dir, 0o711);
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node --import tsx src/main.ts` as the
 * issue's "server in its own process" and waits for SERVING.
 */
export async function startServer(settings: ServerSettings, timeoutMs = 120_000): Promise<ServerProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    CYPHR_DATA_DIR: settings.dataDir,
    LOG_LEVEL: settings.logLevel,
    ...settings.env,
  };
  if (settings.databaseUrl) env.DATABASE_URL = settings.databaseUrl;
  else delete env.DATABASE_URL;
  const launched = performance.now();
  const child = fork(ENTRY_POINT, [], {
    cwd: REPO_ROOT,
    env,
    execArgv: [
      "--enable-source-maps",
      "--import",
      RUNTIME,
      "--import",
      PROBE,
      "--expose-gc",
      ...(settings.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", settings.cpuProfileDir] : []),
    ],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let inProcessStartupMs: number | undefined;
  let output = "";
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    if (output.length < 20_000) output += text;
    const match = /"startupMs":(\d+)/.exec(text);
    if (match) inProcessStartupMs = Number(match[1]);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", (chunk: Buffer) => {
    collect(chunk);
    process.stderr.write(`\n[server ${child.pid}] ${chunk.toString()}`);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitServing(port, baseUrl, launched + timeoutMs),
    exited.then((code) => {
      throw new Error(`server exited with ${code} before SERVING:\n${output.slice(-4000)}`);
    }),
  ]);
  const startupMs = performance.now() - launched;
  return {
    pid: child.pid!,
    port,
    baseUrl,
    startupMs,
    get inProcessStartupMs() {
      return inProcessStartupMs;
    },
    stats: (gc = false) => probe(child, { probe: "stats", gc }),
    heapSnapshot: async (file) => void (await probe(child, { probe: "heapSnapshot", file }, 600_000)),
    exited,
    async stop() {
      const t0 = performance.now();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
      return performance.now() - t0;
    },
  };
}

/** Polls the port, then grpc.health.v1.Health/Check, every 5 ms until SERVING. */
async function waitServing(port: number, baseUrl: string, deadline: number): Promise<void> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  while (!(await canConnect(port))) {
    if (performance.now() > deadline) throw new Error("server did not listen in time");
    await sleep(5);
  }
  const health = createClient(Health, connection(baseUrl));
  for (;;) {
    try {
      const res = await health.check({}, { timeoutMs: 2000 });
      if (res.status === HealthCheckResponse_ServingStatus.SERVING) return;
    } catch {
      // not ready yet
    }
    if (performance.now() > deadline) throw new Error("server did not report SERVING in time");
    await sleep(5);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

let probeId = 0;
function probe(child: ChildProcess, request: { probe: string; gc?: boolean; file?: string }, timeoutMs = 30_000): Promise<ServerStats> {
  const id = ++probeId;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server probe did not answer")), timeoutMs);
    const onMessage = (msg: { probe?: string; id?: number } & ServerStats) => {
      if (msg.probe !== request.probe || msg.id !== id) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve({ memory: msg.memory, cpu: msg.cpu, eventLoopUtilization: msg.eventLoopUtilization });
    };
    child.on("message", onMessage);
    child.send({ ...request, id });
  });
}

/** The embedded PostgreSQL's URL, from the files the server keeps in its data folder (for extra instances). */
export function embeddedDatabaseUrl(dataDir: string): string {
  const password = fs.readFileSync(path.join(dataDir, "pg-password"), "utf8").trim();
  const lines = fs.readFileSync(path.join(dataDir, "pg", "postmaster.pid"), "utf8").split("\n");
  return `postgres://cyphr:${encodeURIComponent(password)}@127.0.0.1:${lines[3]!.trim()}/cyphr`;
}
