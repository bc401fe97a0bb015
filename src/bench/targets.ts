import type { BenchResults } from "./report.js";

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
  // RSS that fell while streams opened is memory of earlier work returned to the OS, not a reading.
  const rss = s && s.memory.rssPerStreamBytes > 0 ? s : undefined;
  check("≤ 8 KB RSS per idle authenticated stream", rss ? rss.memory.rssPerStreamBytes / KB : undefined, "KB", (v) => v <= 8);
  check(
    "100,000 streams in one instance under 1 GB (projected from this run)",
    rss ? (rss.memory.rssAfterMiB * 1024 * 1024 + (100_000 - rss.streams) * rss.memory.rssPerStreamBytes) / 1e9 : undefined,
    "GB",
    (v) => v < 1,
  );
  const frames = r.throughput.find((t) => t.mode === "frames");
  const unary = r.throughput.find((t) => t.mode === "unary");
  const cpu = (t: { cpuPerMessage: { serverMs: number; postgresMs: number } } | undefined) => (t ? t.cpuPerMessage.serverMs + t.cpuPerMessage.postgresMs : undefined);
  check("frames: server + PostgreSQL CPU ≤ 0.25 ms per message", cpu(frames), "ms", (v) => v <= 0.25);
  check("unary: server + PostgreSQL CPU ≤ 0.5 ms per message", cpu(unary), "ms", (v) => v <= 0.5);
  check("frames ≥ 6,000 msg/s accepted and delivered", frames ? Math.min(frames.acceptedPerSecond, frames.deliveredPerSecond) : undefined, "msg/s", (v) => v >= 6000);
  check("unary ≥ 2,000 msg/s", unary?.acceptedPerSecond, "msg/s", (v) => v >= 2000);
  const at2000 = r.latency.find((l) => l.mode === "frames" && l.rate === 2000);
  check("p99 send → receive ≤ 50 ms at 2,000 msg/s (frames)", at2000?.sendToReceive.p99, "ms", (v) => v <= 50);
  const openCpuMs = s ? ((s.openCpu.serverSeconds + s.openCpu.postgresSeconds) * 1000) / Math.max(1, s.opened) : undefined;
  check("opening a stream ≤ 1 ms of server + PostgreSQL CPU", openCpuMs, "ms", (v) => v <= 1);
  const big = s && s.streams >= 20_000 ? s : undefined;
  check("20,000 streams open in ≤ 20 s", big?.openSeconds, "s", (v) => v <= 20);
  check("one group message reaches all 20,000 streams within 1 s of its accept", big ? big.push.lastMs - big.push.acceptMs : undefined, "ms", (v) => v <= 1000);
  check("0 lost and 0 duplicated", r.failures.length, "failures", (v) => v === 0);
  return checks;
}

const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100);
