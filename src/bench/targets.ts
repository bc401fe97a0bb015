import type { CpuFigures, CpuPerMessage } from "./cpu.js";
import type { BenchResults } from "./report.js";
import type { ThroughputResult } from "./scenario-throughput.js";

/** One target of the realtime-engine issue, as this run measured it. */
export interface TargetCheck {
  target: string;
  /** What this run measured, in the target's unit; undefined: the run did not measure it (scenario or shape not run, or no valid reading). */
  measured: string | undefined;
  met: boolean | undefined;
}

const KB = 1000;

/**
 * The realtime-engine targets (docs/benchmarks.md), each checked against this run where it
 * measured the figure in the target's own shape; the others say which run measures them.
 */
export function checkTargets(r: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const check = (target: string, value: number | undefined, unit: string, ok: (v: number) => boolean) =>
    checks.push({ target, measured: value === undefined ? undefined : `${round(value)} ${unit}`, met: value === undefined ? undefined : ok(value) });

  const s = r.streams;
  // RSS that fell while streams opened is memory of earlier work returned to the OS, not a reading;
  // RSS that grew less than the heap did means the streams reused pages earlier work freed:
  // then the heap (and external memory) per stream is the lower bound to judge by.
  const rss = s && s.memory.rssPerStreamBytes > 0 ? s : undefined;
  const perStream = (run: NonNullable<typeof s>) =>
    Math.max(run.memory.rssPerStreamBytes, run.memory.heapPerStreamBytes + run.memory.externalPerStreamBytes) / KB;
  const multiplexed = rss && rss.connections < rss.streams ? rss : undefined;
  const ownConnection = rss && rss.connections >= rss.streams ? rss : undefined;
  check(
    `≤ 8 KB RSS per idle authenticated stream, many streams per HTTP/2 connection${multiplexed ? ` (${multiplexed.connections} here)` : ""}`,
    multiplexed ? perStream(multiplexed) : undefined,
    "KB",
    (v) => v <= 8,
  );
  check(
    "≤ 8 KB RSS per idle authenticated stream, one HTTP/2 connection per client",
    ownConnection ? perStream(ownConnection) : undefined,
    "KB",
    (v) => v <= 8,
  );
  check(
    "100,000 streams in one instance under 1 GB (projected from this run)",
    rss ? (rss.memory.rssAfterMiB * 1024 * 1024 + (100_000 - rss.streams) * rss.memory.rssPerStreamBytes) / 1e9 : undefined,
    "GB",
    (v) => v < 1,
  );
  const frames = r.throughput.find((t) => t.mode === "frames");
  const unary = r.throughput.find((t) => t.mode === "unary");
  const cpu = (t: { cpuPerMessage: CpuPerMessage } | undefined) => (t ? t.cpuPerMessage.serverMs + t.cpuPerMessage.postgresMs : undefined);
  check("frames: server + PostgreSQL CPU ≤ 0.25 ms per message", cpu(frames), "ms", (v) => v <= 0.25);
  check("unary: server + PostgreSQL CPU ≤ 0.5 ms per message", cpu(unary), "ms", (v) => v <= 0.5);
  checks.push(loadgenCost(frames, r.machine.cores), loadgenBusiest(r));
  check(
    "frames ≥ 6,000 msg/s accepted and delivered",
    frames ? Math.min(frames.acceptedPerSecond, frames.deliveredPerSecond) : undefined,
    "msg/s",
    (v) => v >= 6000,
  );
  check("unary ≥ 2,000 msg/s", unary?.acceptedPerSecond, "msg/s", (v) => v >= 2000);
  const at2000 = r.latency.find((l) => l.mode === "frames" && l.rate === 2000);
  check("p99 send → receive ≤ 50 ms at 2,000 msg/s (frames)", at2000?.sendToReceive.p99, "ms", (v) => v <= 50);
  check("opening a stream ≤ 1 ms of server + PostgreSQL CPU", s ? s.openCpuPerStream.serverMs + s.openCpuPerStream.postgresMs : undefined, "ms", (v) => v <= 1);
  const big = s && s.streams >= 20_000 ? s : undefined;
  check("20,000 streams open in ≤ 20 s", big?.openSeconds, "s", (v) => v <= 20);
  check("one group message reaches all 20,000 streams within 1 s of its accept", big ? big.push.lastMs - big.push.acceptMs : undefined, "ms", (v) => v <= 1000);
  check("0 lost, 0 duplicated, no cursor gap or repeat at a resume", r.failures.length, "failures", (v) => v === 0);
  return checks;
}

/**
 * The load generator's cost in the frames throughput window (the figure the issue measured it
 * by: ~0.24 ms per message on connect-es): met when it costs less per message than the server
 * and PostgreSQL it drives, so that most of the shared cores go to what is measured.
 */
function loadgenCost(frames: ThroughputResult | undefined, cores: number): TargetCheck {
  const target = "load generator CPU per message / share of the machine (frames throughput): less than server + PostgreSQL";
  if (!frames) return { target, measured: undefined, met: undefined };
  const c = frames.cpu;
  const share = (c.loadgenSeconds / Math.max(1e-9, c.windowSeconds * cores)) * 100;
  const measured = `${round(frames.cpuPerMessage.loadgenMs)} ms vs ${round(frames.cpuPerMessage.serverMs + frames.cpuPerMessage.postgresMs)} ms; ${Math.round(share)} % of the machine`;
  return { target, measured, met: frames.cpuPerMessage.loadgenMs < frames.cpuPerMessage.serverMs + frames.cpuPerMessage.postgresMs };
}

/** Near a full core, a load-generator process (one event loop) is what bounds its window. */
const BUSIEST_LIMIT_PERCENT = 80;

function loadgenBusiest(r: BenchResults): TargetCheck {
  const windows: [string, CpuFigures][] = [
    ...r.throughput.map((t): [string, CpuFigures] => [`throughput/${t.mode}`, t.cpu]),
    ...r.latency.map((l): [string, CpuFigures] => [`latency/${l.mode}@${l.rate}`, l.cpu]),
    ...(r.streams
      ? ([
          ["streams open", r.streams.openCpu],
          ["streams push", r.streams.pushCpu],
        ] as [string, CpuFigures][])
      : []),
    ...(r.reconnects ? ([["reconnects storm", r.reconnects.storm.cpu]] as [string, CpuFigures][]) : []),
  ];
  const target = `no load-generator process above ${BUSIEST_LIMIT_PERCENT} % of a core in any window`;
  if (windows.length === 0) return { target, measured: undefined, met: undefined };
  const [name, busiest] = windows.reduce((a, b) => (b[1].loadgenBusiestPercent > a[1].loadgenBusiestPercent ? b : a));
  return { target, measured: `${busiest.loadgenBusiestPercent} % (${name})`, met: busiest.loadgenBusiestPercent <= BUSIEST_LIMIT_PERCENT };
}

const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100);
