import { randomUUID } from "node:crypto";
import { encode, newHistogram } from "./histogram.js";
import type { Role } from "./worker.js";
import { PairTraffic } from "./worker-pairs.js";
import type { LatencyTask } from "./worker-protocol.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Open loop: message k is due at t0 + k/rate, whatever the server does, so a slow server
 * cannot slow the schedule down and hide its latency (no coordinated omission). Sender
 * and recipient live in this process, so latency = arrival on the recipient's stream −
 * scheduled send time, in one clock (performance.now()).
 */
export function latencyRole(task: LatencyTask): Role {
  const traffic = new PairTraffic(task.pairs, { mode: task.mode, payloadBytes: task.payloadBytes, kemFirst: task.kemFirst });
  const delivery = newHistogram();
  const accept = newHistogram();
  const scheduled = new Map<string, number>();
  traffic.onDelivered = (id, at) => {
    const due = scheduled.get(id);
    if (due !== undefined) delivery.recordValue(Math.max(1, Math.round((at - due) * 1000)));
  };
  return {
    async prepare() {
      await traffic.open();
      return { pairs: traffic.size };
    },
    async start(_args, started) {
      const total = Math.round(task.rate * task.seconds);
      const interval = 1000 / task.rate;
      const t0 = performance.now() + 20;
      const sends: Promise<unknown>[] = [];
      let maxSendLagMs = 0;
      let k = 0;
      started();
      await new Promise<void>((done) => {
        const tick = () => {
          const now = performance.now();
          for (; k < total && t0 + k * interval <= now; k++) {
            const due = t0 + k * interval;
            maxSendLagMs = Math.max(maxSendLagMs, now - due);
            const id = randomUUID();
            scheduled.set(id, due);
            sends.push(
              traffic.send(k % traffic.size, id).then((ok) => {
                if (ok) accept.recordValue(Math.max(1, Math.round((performance.now() - due) * 1000)));
              }),
            );
          }
          if (k < total) setTimeout(tick, Math.max(0, Math.min(1, t0 + k * interval - performance.now())));
          else done();
        };
        tick();
      });
      const scheduleSeconds = (performance.now() - t0) / 1000;
      await Promise.race([Promise.all(sends), sleep(60_000)]);
      await traffic.drain(task.drainSeconds * 1000);
      return {
        scheduled: total,
        scheduleSeconds,
        maxSendLagMs,
        delivery: encode(delivery),
        accept: encode(accept),
      };
    },
    async finish() {
      const summary = traffic.tracker.summary();
      traffic.close();
      return { summary, streamErrors: traffic.streamErrors };
    },
    progress() {
      const t = traffic.tracker;
      return { accepted: t.acceptedCount, delivered: t.deliveredCount, errors: t.errors };
    },
  };
}
