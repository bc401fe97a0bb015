import type { Role } from "./worker.js";
import { PairTraffic } from "./worker-pairs.js";
import type { ThroughputTask } from "./worker-protocol.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Closed loop: each sender keeps `inFlight` sends outstanding for `seconds`, sending the
 * next as soon as one is answered. Counts what was accepted and delivered inside the
 * window, then drains and counts every message by id.
 */
export function throughputRole(task: ThroughputTask): Role {
  const traffic = new PairTraffic(task.pairs, { mode: task.mode, payloadBytes: task.payloadBytes, kemFirst: task.kemFirst });
  let loops: Promise<unknown> = Promise.resolve();
  return {
    async prepare() {
      await traffic.open();
      return { pairs: traffic.size };
    },
    async start(_args, started) {
      let running = true;
      const t0 = performance.now();
      const loop = async (pair: number) => {
        while (running) {
          // A refused send (rate limit, error) backs off briefly instead of spinning.
          if (!(await traffic.send(pair))) await sleep(10);
        }
      };
      loops = Promise.all(Array.from({ length: traffic.size * task.inFlight }, (_, i) => loop(i % traffic.size)));
      started();
      await sleep(task.seconds * 1000);
      running = false;
      const seconds = (performance.now() - t0) / 1000;
      const { acceptedCount: accepted, deliveredCount: delivered, errors } = traffic.tracker;
      return { seconds, accepted, delivered, errors };
    },
    async finish() {
      const t0 = performance.now();
      await Promise.race([loops, sleep(60_000)]);
      await traffic.drain(task.drainSeconds * 1000);
      const drainSeconds = (performance.now() - t0) / 1000;
      const summary = traffic.tracker.summary();
      traffic.close();
      return { summary, drainSeconds, streamErrors: traffic.streamErrors };
    },
    progress() {
      const t = traffic.tracker;
      return { accepted: t.acceptedCount, delivered: t.deliveredCount, errors: t.errors };
    },
  };
}
