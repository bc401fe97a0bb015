/**
 * A load-generator process, forked by the orchestrator (src/bench/main.ts) with an IPC
 * channel: prepare (open connections and streams), start (the measured part), finish
 * (drain, count, close). It reports progress once per second.
 */

import { latencyRole } from "./worker-latency.js";
import type { WorkerCommand, WorkerEvent, WorkerProgress, WorkerTask } from "./worker-protocol.js";
import { reconnectsRole } from "./worker-reconnects.js";
import { streamsRole } from "./worker-streams.js";
import { throughputRole } from "./worker-throughput.js";

export interface Role {
  prepare(): Promise<Record<string, unknown>>;
  /** Runs the measured part; calls `started` once it is armed. */
  start(args: Extract<WorkerCommand, { cmd: "start" }>["args"], started: () => void): Promise<Record<string, unknown>>;
  finish(): Promise<Record<string, unknown>>;
  progress(): WorkerProgress;
}

function createRole(task: WorkerTask): Role {
  switch (task.kind) {
    case "throughput":
      return throughputRole(task);
    case "latency":
      return latencyRole(task);
    case "streams":
      return streamsRole(task);
    case "reconnects":
      return reconnectsRole(task);
  }
}

const send = (event: WorkerEvent) => process.send!(event);
let role: Role | undefined;
let progressTimer: NodeJS.Timeout | undefined;

process.on("message", (msg: WorkerCommand) => {
  void (async () => {
    try {
      switch (msg.cmd) {
        case "prepare":
          role = createRole(msg.task);
          progressTimer = setInterval(() => send({ evt: "progress", data: role!.progress() }), 1000);
          send({ evt: "prepared", data: await role.prepare() });
          return;
        case "start":
          send({ evt: "measured", data: await role!.start(msg.args, () => send({ evt: "started" })) });
          return;
        case "finish": {
          const data = await role!.finish();
          clearInterval(progressTimer);
          process.send!({ evt: "finished", data } satisfies WorkerEvent, () => process.exit(0));
          return;
        }
      }
    } catch (error) {
      send({ evt: "error", message: (error as Error).stack ?? String(error) });
    }
  })();
});
process.on("disconnect", () => process.exit(0));
send({ evt: "ready" });
