/**
 * The benchmark harness: `npm run bench` (quick, about a minute) or `npm run bench -- --help`.
 * Starts the server in its own process(es) on a fresh data folder, drives it from separate
 * load-generator processes over loopback, prints a table and writes a JSON file; exits 1
 * when any message was lost or duplicated. See docs/benchmarks.md.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { LIMIT_DEFAULTS } from "../privacy/limits/limits.js";
import type { BenchContext } from "./context.js";
import { Fleet } from "./fleet.js";
import { type BenchOptions, parseOptions, USAGE } from "./options.js";
import { machineBusyPercent, machineInfo } from "./proc.js";
import { note } from "./progress.js";
import { type BenchResults, findFailures, formatReport, red } from "./report.js";
import { connection } from "./rpc.js";
import { runAttachments } from "./scenario-attachments.js";
import { runLatency } from "./scenario-latency.js";
import { runReconnects } from "./scenario-reconnects.js";
import { runStartup } from "./scenario-startup.js";
import { runStreams } from "./scenario-streams.js";
import { runThroughput } from "./scenario-throughput.js";
import { embeddedDatabaseUrl, makeDataDir, REPO_ROOT } from "./server-process.js";

/** Server settings for every run: rate limits and stream buffers are not what is measured. */
function serverEnv(o: BenchOptions): Record<string, string> {
  return {
    SEND_RATE_PER_SECOND: "1000000",
    SEND_BURST: "1000000",
    // Thousands of users register and log in from one address in seconds; the shared limits are not what is measured.
    ...Object.fromEntries(Object.keys(LIMIT_DEFAULTS).map((name) => [`RATE_LIMIT_${name.toUpperCase()}`, "999999999/999999999"])),
    STREAM_BUFFER_FRAMES: "1000000",
    STREAM_BUFFER_BYTES: String(1024 ** 3),
    STREAM_MAX_PER_USER: "10000",
    STREAM_ENGINE: o.streamEngine,
    // The stream shapes measured (up to 100,000 streams, or hundreds per connection) are not what the caps are for.
    HTTP2_MAX_CONCURRENT_STREAMS: "10000",
    MAX_CONNECTIONS: "1000000",
    // Heartbeats every 10 min (idle cut-off 30 min): long runs need no client heartbeats.
    HEARTBEAT_INTERVAL_MS: "600000",
    ACCESS_TOKEN_TTL_SECONDS: "86400",
    MAX_GROUP_MEMBERS: String(Math.min(100_000, Math.max(1000, o.streamUsers + 1))),
    ...(o.poolSize ? { DATABASE_POOL_SIZE: String(o.poolSize) } : {}),
  };
}

async function main(): Promise<number> {
  let options: BenchOptions | "help";
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = options;
  const dataDir = o.dataDir ?? makeDataDir();
  const cpuProfileDir = o.profileServer ? path.join(REPO_ROOT, "bench-results", "profiles") : undefined;
  const fleet = new Fleet({ dataDir, databaseUrl: o.databaseUrl, logLevel: o.serverLogLevel, env: serverEnv(o), cpuProfileDir });
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    commit: gitCommit(),
    machine: machineInfo(),
    postgres: "",
    options: o,
    ...(await machineBusyPercent(2000).then((m) => ({ busyBeforePercent: m.busy, stealBeforePercent: m.steal }))),
    firstStartMs: 0,
    throughput: [],
    latency: [],
    streams: undefined,
    reconnects: undefined,
    startup: undefined,
    attachments: undefined,
    errors: [],
    failures: [],
  };
  const attempt = async (name: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      process.stderr.write(`\n${red(`${name} failed:`)} ${(error as Error).stack ?? String(error)}\n`);
      results.errors.push(`${name}: ${(error as Error).message}`);
    }
  };
  try {
    note(
      `data folder ${dataDir}; starting ${o.instances} server instance(s), STREAM_ENGINE=${o.streamEngine}${o.databaseUrl ? " on the external PostgreSQL" : " (embedded PostgreSQL)"}`,
    );
    const t0 = performance.now();
    await fleet.startAll(o.instances);
    results.firstStartMs = Math.round(performance.now() - t0);
    results.postgres = await postgresVersion(o.databaseUrl ?? embeddedDatabaseUrl(dataDir), !o.databaseUrl);
    const ctx: BenchContext = { options: o, servers: fleet.servers, embedded: fleet.embedded, setup: connection(fleet.servers[0]!.baseUrl) };
    for (const mode of o.scenarios.includes("throughput") ? o.modes : []) {
      await attempt(`throughput/${mode}`, async () => void results.throughput.push(await runThroughput(ctx, mode)));
    }
    for (const rate of o.scenarios.includes("latency") ? o.rates : []) {
      for (const mode of o.modes) {
        await attempt(`latency/${mode}@${rate}`, async () => void results.latency.push(await runLatency(ctx, mode, rate)));
      }
    }
    if (o.scenarios.includes("streams")) await attempt("streams", async () => void (results.streams = await runStreams(ctx)));
    if (o.scenarios.includes("reconnects")) await attempt("reconnects", async () => void (results.reconnects = await runReconnects(ctx)));
    if (o.scenarios.includes("attachments")) await attempt("attachments", async () => void (results.attachments = await runAttachments(ctx, o.attachmentMiB)));
    if (o.scenarios.includes("startup")) await attempt("startup", async () => void (results.startup = await runStartup(fleet, o.startupRuns)));
  } catch (error) {
    results.errors.push(`setup: ${(error as Error).message}`);
    process.stderr.write(`${red("setup failed:")} ${(error as Error).stack ?? String(error)}\n`);
  } finally {
    await fleet.stopAll().catch(() => undefined);
    if (o.keepData || o.dataDir) note(`data folder kept: ${dataDir}`);
    else fs.rmSync(dataDir, { recursive: true, force: true });
  }

  results.failures = findFailures(results);
  process.stdout.write(`\n${formatReport(results)}\n`);
  const file = o.json ?? path.join(REPO_ROOT, "bench-results", `${results.startedAt.replace(/[:.]/g, "-")}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), file) || file}\n`);
  return results.failures.length === 0 ? 0 : 1;
}

function gitCommit(): string {
  // For runs from an exported tree (git archive), which has no .git: say which commit it is.
  if (process.env.CYPHR_BENCH_COMMIT) return process.env.CYPHR_BENCH_COMMIT;
  try {
    const head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return "unknown";
  }
}

async function postgresVersion(url: string, embedded: boolean): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>("SHOW server_version");
    return `PostgreSQL ${rows[0]!.server_version}${embedded ? " (embedded)" : " (external)"}`;
  } catch {
    return "PostgreSQL (version unknown)";
  } finally {
    await client.end().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
