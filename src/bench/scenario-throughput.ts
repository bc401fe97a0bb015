import { type BenchContext, makePairs } from "./context.js";
import { type CpuFigures, type CpuPerMessage, cpuPerMessage } from "./cpu.js";
import { ProgressLine } from "./progress.js";
import { addSummaries, type DeliverySummary, EMPTY_SUMMARY } from "./tracker.js";
import type { SendMode } from "./worker-pairs.js";
import { LoadWorker, runMeasuredWindow, split, total } from "./workers.js";

export interface ThroughputResult {
  mode: SendMode;
  pairs: number;
  inFlightPerSender: number;
  seconds: number;
  /** Accepted (committed, answered) inside the window, per second. */
  acceptedPerSecond: number;
  /** First arrivals on recipients' streams inside the window, per second. */
  deliveredPerSecond: number;
  /** Seconds after the window until every accepted message had arrived (or the drain limit). */
  drainSeconds: number;
  delivery: DeliverySummary;
  streamErrors: string[];
  cpu: CpuFigures;
  /** Server, PostgreSQL and load-generator CPU per message accepted in the window, ms. */
  cpuPerMessage: CpuPerMessage;
}

/** Scenario 1: closed-loop sends for T seconds with P pairs, one send path. */
export async function runThroughput(ctx: BenchContext, mode: SendMode): Promise<ThroughputResult> {
  const o = ctx.options;
  const pairs = await makePairs(ctx, `throughput/${mode}`);
  const workers = split(pairs, o.workers).map(() => new LoadWorker());
  try {
    const parts = split(pairs, workers.length);
    await Promise.all(
      workers.map((w, i) =>
        w.prepare({
          kind: "throughput",
          mode,
          pairs: parts[i]!,
          seconds: o.seconds,
          inFlight: o.inFlight,
          payloadBytes: o.payloadBytes,
          kemFirst: o.kemFirst,
          drainSeconds: o.drainSeconds,
        }),
      ),
    );
    const progress = new ProgressLine(`throughput/${mode}`, () => {
      return `accepted ${total(workers, "accepted")}  delivered ${total(workers, "delivered")}  errors ${total(workers, "errors")}`;
    });
    const { cpu, measured, finished } = await runMeasuredWindow(ctx, workers);
    progress.stop();
    const sum = (key: string) => measured.reduce((s, m) => s + (m[key] as number), 0);
    const seconds = sum("seconds") / measured.length;
    return {
      mode,
      pairs: pairs.length,
      inFlightPerSender: o.inFlight,
      seconds: Math.round(seconds * 100) / 100,
      acceptedPerSecond: Math.round(sum("accepted") / seconds),
      deliveredPerSecond: Math.round(sum("delivered") / seconds),
      drainSeconds: Math.round(Math.max(...finished.map((f) => f.drainSeconds as number)) * 100) / 100,
      delivery: finished.map((f) => f.summary as DeliverySummary).reduce(addSummaries, EMPTY_SUMMARY),
      streamErrors: finished.flatMap((f) => f.streamErrors as string[]),
      cpu,
      cpuPerMessage: cpuPerMessage(cpu, sum("accepted")),
    };
  } finally {
    workers.forEach((w) => w.kill());
  }
}
