import { parseArgs } from "node:util";
import type { SendMode } from "./worker-pairs.js";

export const SCENARIOS = ["throughput", "latency", "streams", "reconnects", "startup", "attachments"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** What serves Connect and Subscribe over HTTP/2 (the server's STREAM_ENGINE): the core-stream fast path, or connect-es. */
export const STREAM_ENGINES = ["h2", "connect"] as const;
export type StreamEngine = (typeof STREAM_ENGINES)[number];

export interface BenchOptions {
  scenarios: Scenario[];
  /** The server's STREAM_ENGINE: h2 (default) or connect, to compare the two within one machine's conditions. */
  streamEngine: StreamEngine;
  /** Throughput and latency: sender/recipient pairs. */
  pairs: number;
  /** Throughput: seconds per send mode. */
  seconds: number;
  /** Throughput: sends outstanding per sender (closed loop). */
  inFlight: number;
  /** Throughput and latency: which send paths to measure. */
  modes: SendMode[];
  /** Latency: scheduled messages per second (open loop); one run per rate and send path. */
  rates: number[];
  /** Latency: seconds per send mode. */
  latencySeconds: number;
  /** Live streams: streams to hold open. */
  streams: number;
  /** Live streams: HTTP/2 connections carrying them. */
  connections: number;
  /** Live streams: distinct users owning them (streams are spread evenly). */
  streamUsers: number;
  /** Live streams: load-generator processes holding them (at most one per connection). */
  streamWorkers: number;
  /** Reconnect storm: recipients holding streams (as many senders send to them). */
  reconnectUsers: number;
  /** Reconnect storm: streams dropped and resumed per second in the storm window. */
  reconnectRate: number;
  /** Reconnect storm: messages per second sent to the recipients in both windows. */
  reconnectSendRate: number;
  /** Reconnect storm: seconds per window (steady, then storm). */
  reconnectSeconds: number;
  /** Reconnect storm, resume window: messages each recipient missed before coming back. */
  reconnectBacklog: number;
  /** Ciphertext bytes per message (plus a 24-byte nonce and a 16-byte tag). */
  payloadBytes: number;
  /** Every message carries a real ML-KEM-1024 ciphertext (1568 bytes), as a session's first message does. */
  kemFirst: boolean;
  /** Load-generator processes for throughput and latency. */
  workers: number;
  /** Server processes sharing one PostgreSQL (senders use one, recipients the next). */
  instances: number;
  /** Start-up: restarts measured. */
  startupRuns: number;
  /** Attachments: size of the attachment streamed, MiB. */
  attachmentMiB: number;
  /** External PostgreSQL (otherwise the server starts its embedded one). */
  databaseUrl: string | undefined;
  /** Keep the bench data folder (printed) instead of deleting it. */
  keepData: boolean;
  /** Reuse this data folder (e.g. a kept one) instead of a fresh one. */
  dataDir: string | undefined;
  /** Where the JSON results go. */
  json: string | undefined;
  /** Seconds to wait for accepted messages to arrive after sending stopped. */
  drainSeconds: number;
  /** LOG_LEVEL of the server during measurements. */
  serverLogLevel: string;
  /** DATABASE_POOL_SIZE of the server. */
  poolSize: number | undefined;
  /** Write V8 CPU profiles of the server processes (bench-results/profiles/). */
  profileServer: boolean;
  /** Live streams: write a heap snapshot of the server with every stream open (bench-results/profiles/). */
  heapSnapshot: boolean;
}

export const USAGE = `npm run bench -- [flags]      (no flags: the quick run, about a minute)

  --scenarios=LIST       throughput,latency,streams,reconnects,startup,attachments
                         (default: all but attachments)
  --stream-engine=E      h2 (default: Connect/Subscribe over HTTP/2 on the core stream
                         API) or connect (every call through connect-es)
  --pairs=P              sender/recipient pairs (default 20)
  --seconds=T            throughput seconds per send mode (default 6)
  --in-flight=N          throughput: sends outstanding per sender (default 4)
  --modes=LIST           unary,frames (default: both)
  --rate=R[,R2…]         latency: messages per second, open loop; one run per rate (default 500)
  --latency-seconds=T    latency seconds per send mode and rate (default 6)
  --streams=S            live streams to hold (default 2000)
  --connections=C        HTTP/2 connections carrying them (default 10)
  --stream-users=U       users owning the streams (default min(S, 1000))
  --stream-workers=W     processes holding the streams (default 4, at most one per connection)
  --reconnect-users=R    reconnect storm: recipients holding streams, one sender each (default 200)
  --reconnect-rate=N     reconnect storm: streams dropped and resumed per second (default 25)
  --reconnect-send-rate=N  reconnect storm: messages per second to the recipients (default 200)
  --reconnect-seconds=T  reconnect storm: seconds of the steady window and of the storm window (default 8)
  --reconnect-backlog=K  reconnect storm: messages each recipient missed before the resume window (default 20)
  --payload-bytes=B      ciphertext bytes per message (default 512)
  --kem-first            every message carries a real ML-KEM-1024 ciphertext (1568 bytes)
  --workers=N            load-generator processes for throughput/latency (default 1)
  --instances=N          server processes on one PostgreSQL (default 1)
  --startup-runs=N       restarts measured (default 3)
  --attachment-mib=N     attachments: size of the attachment uploaded and streamed (default 100)
  --database-url=URL     external PostgreSQL (default: embedded, in a fresh data folder)
  --data-dir=DIR         use this data folder instead of a fresh one
  --keep-data            keep the data folder
  --drain-seconds=N      wait for late deliveries (default 15)
  --json=FILE            results file (default bench-results/<timestamp>.json)
  --server-log-level=L   server LOG_LEVEL (default warn)
  --pool-size=N          server DATABASE_POOL_SIZE (default: the server's)
  --profile-server       write V8 CPU profiles of the server to bench-results/profiles/
  --heap-snapshot        streams: heap snapshot of the server with all streams open (same folder);
                         summarise it with: npx tsx src/bench/heap-summary.ts FILE [STREAMS]
`;

export function parseOptions(argv: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      scenarios: { type: "string" },
      "stream-engine": { type: "string" },
      pairs: { type: "string" },
      seconds: { type: "string" },
      "in-flight": { type: "string" },
      modes: { type: "string" },
      rate: { type: "string" },
      "latency-seconds": { type: "string" },
      streams: { type: "string" },
      connections: { type: "string" },
      "stream-users": { type: "string" },
      "stream-workers": { type: "string" },
      "reconnect-users": { type: "string" },
      "reconnect-rate": { type: "string" },
      "reconnect-send-rate": { type: "string" },
      "reconnect-seconds": { type: "string" },
      "reconnect-backlog": { type: "string" },
      "payload-bytes": { type: "string" },
      "kem-first": { type: "boolean" },
      workers: { type: "string" },
      instances: { type: "string" },
      "startup-runs": { type: "string" },
      "attachment-mib": { type: "string" },
      "database-url": { type: "string" },
      "data-dir": { type: "string" },
      "keep-data": { type: "boolean" },
      "drain-seconds": { type: "string" },
      json: { type: "string" },
      "server-log-level": { type: "string" },
      "pool-size": { type: "string" },
      "profile-server": { type: "boolean" },
      "heap-snapshot": { type: "boolean" },
    },
  });
  if (values.help) return "help";
  const int = (name: keyof typeof values, fallback: number, min: number, max: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (typeof raw !== "string" || !Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be an integer ${min}-${max}, got "${String(raw)}"`);
    return n;
  };
  const list = <T extends string>(name: "scenarios" | "modes", allowed: readonly T[]): T[] => {
    const raw = values[name];
    if (raw === undefined) return [...allowed];
    const items = raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const item of items) if (!allowed.includes(item as T)) throw new Error(`--${name}: unknown "${item}" (one of ${allowed.join(", ")})`);
    return allowed.filter((a) => items.includes(a));
  };
  const streams = int("streams", 2000, 1, 1_000_000);
  const streamEngine = values["stream-engine"] ?? "h2";
  if (!STREAM_ENGINES.includes(streamEngine as StreamEngine))
    throw new Error(`--stream-engine: unknown "${streamEngine}" (one of ${STREAM_ENGINES.join(", ")})`);
  return {
    // The attachment scenario moves 300 MiB: only when asked for.
    scenarios: values.scenarios === undefined ? SCENARIOS.filter((s) => s !== "attachments") : list("scenarios", SCENARIOS),
    streamEngine: streamEngine as StreamEngine,
    pairs: int("pairs", 20, 1, 10_000),
    seconds: int("seconds", 6, 1, 3600),
    inFlight: int("in-flight", 4, 1, 256),
    modes: list("modes", ["unary", "frames"] as const),
    rates: (values.rate ?? "500").split(",").map((r) => {
      const n = Number(r);
      if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error(`--rate must be integers 1-1000000, comma-separated, got "${values.rate}"`);
      return n;
    }),
    latencySeconds: int("latency-seconds", 6, 1, 3600),
    streams,
    connections: int("connections", 10, 1, 10_000),
    streamUsers: int("stream-users", Math.min(streams, 1000), 1, 99_999),
    streamWorkers: int("stream-workers", 4, 1, 64),
    reconnectUsers: int("reconnect-users", 200, 1, 10_000),
    reconnectRate: int("reconnect-rate", 25, 1, 10_000),
    reconnectSendRate: int("reconnect-send-rate", 200, 1, 100_000),
    reconnectSeconds: int("reconnect-seconds", 8, 1, 3600),
    reconnectBacklog: int("reconnect-backlog", 20, 0, 10_000),
    payloadBytes: int("payload-bytes", 512, 1, 60_000),
    kemFirst: values["kem-first"] ?? false,
    workers: int("workers", 1, 1, 64),
    instances: int("instances", 1, 1, 16),
    startupRuns: int("startup-runs", 3, 1, 100),
    attachmentMiB: int("attachment-mib", 100, 1, 100),
    databaseUrl: values["database-url"],
    dataDir: values["data-dir"],
    keepData: values["keep-data"] ?? false,
    json: values.json,
    drainSeconds: int("drain-seconds", 15, 1, 3600),
    serverLogLevel: values["server-log-level"] ?? "warn",
    poolSize: values["pool-size"] === undefined ? undefined : int("pool-size", 10, 1, 1000),
    profileServer: values["profile-server"] ?? false,
    heapSnapshot: values["heap-snapshot"] ?? false,
  };
}
