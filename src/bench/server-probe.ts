/**
 * Preloaded into the benchmarked server (`node --import tsx --import ./src/bench/server-probe.ts
 * src/main.ts`) when the harness starts it with an IPC channel: answers memory and CPU questions
 * over IPC, so that the server itself needs no debug endpoint. It does nothing else.
 */
import { performance } from "node:perf_hooks";
import v8 from "node:v8";

interface ProbeRequest {
  probe: "stats" | "heapSnapshot";
  id: number;
  /** Run a full garbage collection first (needs --expose-gc), so heap figures are live data only. */
  gc?: boolean;
  /** heapSnapshot: where to write it. */
  file?: string;
}

if (process.send) {
  process.channel?.unref();
  let lastElu = performance.eventLoopUtilization();
  process.on("message", (msg: ProbeRequest) => {
    if (msg?.probe === "heapSnapshot") {
      process.send!({ probe: "heapSnapshot", id: msg.id, file: v8.writeHeapSnapshot(msg.file) });
      return;
    }
    if (msg?.probe !== "stats") return;
    if (msg.gc && typeof globalThis.gc === "function") {
      globalThis.gc();
      globalThis.gc();
    }
    const elu = performance.eventLoopUtilization(lastElu);
    lastElu = performance.eventLoopUtilization();
    process.send!({ probe: "stats", id: msg.id, memory: process.memoryUsage(), cpu: process.cpuUsage(), eventLoopUtilization: elu.utilization });
  });
}
