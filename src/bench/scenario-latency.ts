import { type BenchContext, makePairs } from "./context.js";
import { type CpuFigures, type CpuPerMessage, cpuPerMessage } from "./cpu.js";
import { merge, type Percentiles, percentiles } from "./histogram.js";
import { ProgressLine } from "./progress.js";
import { addSummaries, type DeliverySummary, EMPTY_SUMMARY } from "./tracker.js";
import type { SendMode } from "./worker-pairs.js";
import { LoadWorker, runMeasuredWindow, split, total } from "./workers.js";

export interface LatencyResult {
  mode: SendMode;
  pairs: number;
  rate: number;
  seconds: number;
  scheduled: number;
  /** Scheduled send time → first arrival on the recipient's stream, ms. */
  sendToReceive: Percentiles;
  /** Scheduled send time → the server's success answer (commit), ms. */
  sendToAccept: Percentiles;
  /** How far behind its schedule the load generator got (ms); large values mean the generator, not the server, was the limit. */
  maxSendLagMs: number;
  delivery: DeliverySummary;
  streamErrors: string[];
  cpu: CpuFigures;
  /** Server, PostgreSQL and load-generator CPU per accepted message, ms. */
  cpuPerMessage: CpuPerMessage;
}

/** Scenario 2: open-loop sends at R messages/s, latency measured in one clock. */
export async function runLatency(ctx: BenchContext, mode: SendMode, rate: number): Promise<LatencyResult> {
  const o = ctx.options;
  const pairs = await makePairs(ctx, `latency/${mode} @${rate}/s`);
  const parts = split(pairs, o.workers);
  const workers = parts.map(() => new LoadWorker());
  try {
    await Promise.all(
      workers.map((w, i) =>
        w.prepare({
          kind: "latency",
          mode,
          pairs: parts[i]!,
          rate: rate / parts.length,
          seconds: o.latencySeconds,
          payloadBytes: o.payloadBytes,
          kemFirst: o.kemFirst,
          drainSeconds: o.drainSeconds,
        }),
      ),
    );
    const progress = new ProgressLine(
      `latency/${mode} @${rate}/s`,
      () => `accepted ${total(workers, "accepted")}  delivered ${total(workers, "delivered")}  errors ${total(workers, "errors")}`,
    );
    const { cpu, measured, finished } = await runMeasuredWindow(ctx, workers);
    progress.stop();
    const delivery = finished.map((f) => f.summary as DeliverySummary).reduce(addSummaries, EMPTY_SUMMARY);
    return {
      mode,
      pairs: pairs.length,
      rate,
      seconds: o.latencySeconds,
      scheduled: measured.reduce((s, m) => s + (m.scheduled as number), 0),
      sendToReceive: percentiles(merge(measured.map((m) => m.delivery as string))),
      sendToAccept: percentiles(merge(measured.map((m) => m.accept as string))),
      maxSendLagMs: Math.round(Math.max(...measured.map((m) => m.maxSendLagMs as number)) * 10) / 10,
      delivery,
      streamErrors: finished.flatMap((f) => f.streamErrors as string[]),
      cpu,
      cpuPerMessage: cpuPerMessage(cpu, delivery.accepted),
    };
  } finally {
    workers.forEach((w) => w.kill());
  }
}
