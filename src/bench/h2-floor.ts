/**
 * The memory floor of node:http2 itself, per idle stream, and what its settings change:
 * `npx tsx src/bench/h2-floor.ts [--streams=S] [--connections=C] [--candidates=a,b]`.
 * For each candidate a fresh bare server process (h2-floor-server.ts, run as `npm start` runs
 * the server) holds S streams over C connections opened from this process, as the benchmark's
 * streams scenario opens them (gRPC headers with a bearer token, one request message, the
 * request left open); RSS and V8 heap are read after a full GC before connecting and once all
 * streams are open, so each stream's share of its connection is in its figure.
 */
import { fork } from "node:child_process";
import http2 from "node:http2";
import path from "node:path";
import type { FloorServerOptions } from "./h2-floor-server.js";
import { REPO_ROOT, RUNTIME } from "./server-process.js";

/** Each candidate: the options the bare server is built with. */
export const CANDIDATES: Record<string, FloorServerOptions> = {
  default: { http2: {} },
  "cyphr-like": { http2: {}, cyphrLike: true },
  "initial-window-16k": { http2: { settings: { initialWindowSize: 16_384 } } },
  "max-session-memory-1": { http2: { maxSessionMemory: 1 } },
  "header-table-0": { http2: { settings: { headerTableSize: 0 } } },
  "deflate-table-0": { http2: { maxDeflateDynamicTableSize: 0 } },
  "header-tables-0": { http2: { settings: { headerTableSize: 0 }, maxDeflateDynamicTableSize: 0 } },
  "max-header-list-8k": { http2: { settings: { maxHeaderListSize: 8_192 }, maxHeaderListPairs: 32 } },
  "peer-max-streams-100": { http2: { peerMaxConcurrentStreams: 100 } },
  "outstanding-pings-2": { http2: { maxOutstandingPings: 2 } },
  "stream-hwm-1k": { http2: { highWaterMark: 1_024 } as http2.ServerOptions },
  "frame-size-16k-window-1m": { http2: { settings: { maxFrameSize: 16_384, initialWindowSize: 1 << 20 } } },
};

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;
const streams = Number(arg("streams", "20000"));
const connections = Number(arg("connections", "50"));
const names = arg("candidates", Object.keys(CANDIDATES).join(",")).split(",");
const env = Object.fromEntries(
  (process.argv.find((a) => a.startsWith("--env="))?.slice(6) ?? "")
    .split(",")
    .filter(Boolean)
    .map((kv) => kv.split("=")),
);

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

async function measure(name: string): Promise<void> {
  const options = CANDIDATES[name];
  if (!options) throw new Error(`unknown candidate ${name}; known: ${Object.keys(CANDIDATES).join(", ")}`);
  const perConnection = Math.ceil(streams / connections);
  const serverOptions: FloorServerOptions = {
    ...options,
    http2: { ...options.http2, settings: { maxConcurrentStreams: perConnection, ...options.http2.settings } },
  };
  const child = fork(path.join(REPO_ROOT, "src/bench/h2-floor-server.ts"), [JSON.stringify(serverOptions)], {
    execArgv: ["--expose-gc", "--import", RUNTIME],
    env: { ...process.env, ...env },
  });
  const replies: ((msg: unknown) => void)[] = [];
  child.on("message", (msg) => replies.shift()?.(msg));
  const reply = <T>() => new Promise<T>((resolve) => replies.push(resolve as (msg: unknown) => void));
  const stats = async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const next = reply<{ memory: Memory }>();
    child.send({ probe: "stats" });
    return (await next).memory;
  };
  const { port } = await reply<{ port: number }>();
  // As the benchmark's streams scenario counts: the connections are part of what each stream costs.
  const before = await stats();
  const sessions: http2.ClientHttp2Session[] = [];
  for (let i = 0; i < connections; i += 250) {
    const batch = Array.from({ length: Math.min(250, connections - i) }, () => http2.connect(`http://127.0.0.1:${port}`, { settings: { enablePush: false } }));
    await Promise.all(batch.map((s) => new Promise((resolve, reject) => s.once("connect", resolve).once("error", reject))));
    sessions.push(...batch);
  }
  const token = `Bearer ${"x".repeat(180)}`;
  const open: Promise<void>[] = [];
  for (let i = 0; i < streams; i++) {
    const session = sessions[i % connections]!;
    const stream = session.request({
      ":method": "POST",
      ":path": "/cyphr.realtime.v1.RealtimeService/Connect",
      "content-type": "application/grpc+proto",
      te: "trailers",
      authorization: token,
    });
    stream.write(Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x08, 0x01]));
    open.push(new Promise((resolve, reject) => stream.once("data", () => resolve()).once("error", reject)));
    if (i % 500 === 499) await Promise.all(open.slice(-500));
  }
  await Promise.all(open);
  const after = await stats();
  const per = (key: keyof Memory) => Math.round((after[key] - before[key]) / streams);
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  console.log(
    `${name.padEnd(26)} ${streams} streams / ${connections} conns: RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, ${per("rss")} B/stream; heap ${per("heapUsed")} B/stream used, ${per("heapTotal")} committed; external ${per("external")} B/stream`,
  );
  for (const s of sessions) s.destroy();
  child.kill();
  await new Promise((r) => child.once("exit", r));
}

for (const name of names) await measure(name);
