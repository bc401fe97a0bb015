import { Code } from "@connectrpc/connect";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The server's Prometheus metrics, one registry per process (one server per process in
 * production; tests that start several servers in one process read differences). Labels
 * are method names, status codes, job names and states: never a user id, cyphr id, chat id,
 * session id or address. Recording is a counter increment or a histogram observation, so the
 * hot paths pay no allocation beyond the label lookup.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "cyphr_" });

/** Latency buckets for calls and fan-out, in seconds: 0.5 ms to 10 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const rpcCalls = new Counter({
  name: "cyphr_rpc_calls_total",
  help: "RPC calls ended, by method (package.Service/Method) and the status code the client got.",
  labelNames: ["method", "code"] as const,
  registers: [registry],
});
const rpcDuration = new Histogram({
  name: "cyphr_rpc_duration_seconds",
  help: "RPC call duration from request to its end (streams: their whole life), by method and code, in seconds.",
  labelNames: ["method", "code"] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});
const streamOpens = new Counter({
  name: "cyphr_stream_opens_total",
  help: "Event streams (Connect, Subscribe) opened on this instance.",
  registers: [registry],
});
const streamCloses = new Counter({
  name: "cyphr_stream_closes_total",
  help: "Event streams (Connect, Subscribe) closed on this instance.",
  registers: [registry],
});
const liveStreams = new Gauge({ name: "cyphr_streams_live", help: "Event streams open on this instance now.", registers: [registry] });
const fanOutLag = new Histogram({
  name: "cyphr_fanout_lag_seconds",
  help: "From an event's commit to its frame handed to a local stream, in seconds (one observation per notice batch and stream).",
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});
const sendBatchSize = new Histogram({
  name: "cyphr_send_batch_size",
  help: "Messages committed together in one group-commit statement of the send batcher.",
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  registers: [registry],
});

/** Methods this server serves: anything else is counted as "other", so a client cannot grow the label set. */
let knownMethods: ReadonlySet<string> = new Set();

/** Names the methods whose calls are labelled by name (package.Service/Method). */
export function setKnownMethods(methods: Iterable<string>): void {
  knownMethods = new Set(methods);
}

const CODE_NAMES = new Map<number, string>([
  [0, "OK"],
  ...Object.entries(Code)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k] as [number, string]),
]);

/** One ended call: counted and timed by method and code. */
export function recordCall(method: string, code: number, durationMs: number): void {
  const labels = { method: knownMethods.has(method) ? method : "other", code: CODE_NAMES.get(code) ?? "Unknown" };
  rpcCalls.inc(labels);
  rpcDuration.observe(labels, durationMs / 1000);
}

export function recordStreamOpened(): void {
  streamOpens.inc();
  liveStreams.inc();
}

export function recordStreamClosed(): void {
  streamCloses.inc();
  liveStreams.dec();
}

/** A durable event committed at `committedAt` has just been handed to a stream. */
export function recordFanOut(committedAt: Date): void {
  fanOutLag.observe(Math.max(0, Date.now() - committedAt.getTime()) / 1000);
}

export function recordSendBatch(size: number): void {
  sendBatchSize.observe(size);
}
