import { type ChildProcess, fork } from "node:child_process";
import path from "node:path";
import type { BenchContext } from "./context.js";
import { cpuBetween, cpuSnapshot } from "./cpu.js";
import { REPO_ROOT, RUNTIME } from "./server-process.js";
import type { WorkerCommand, WorkerEvent, WorkerProgress, WorkerTask } from "./worker-protocol.js";

type EventName = Exclude<WorkerEvent["evt"], "progress" | "error">;

/** A load-generator process (src/bench/worker.ts) and its IPC conversation. */
export class LoadWorker {
  progress: WorkerProgress = {};
  private readonly child: ChildProcess;
  private readonly waiters = new Map<EventName, { resolve: (data: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;

  /** Resolves once the process has loaded its code: CPU read from /proc after this is the load generator's work alone. */
  readonly ready: Promise<Record<string, unknown>>;

  constructor() {
    this.child = fork(path.join(REPO_ROOT, "src/bench/worker.ts"), [], {
      cwd: REPO_ROOT,
      execArgv: ["--enable-source-maps", "--import", RUNTIME, "--max-old-space-size=8192"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.ready = this.next("ready");
    this.ready.catch(() => undefined); // a failure reaches whoever waits next
    this.child.on("message", (event: WorkerEvent) => {
      if (event.evt === "progress") this.progress = event.data;
      else if (event.evt === "error") this.fail(new Error(`load worker ${this.child.pid} failed: ${event.message}`));
      else {
        const waiter = this.waiters.get(event.evt);
        this.waiters.delete(event.evt);
        waiter?.resolve("data" in event ? event.data : {});
      }
    });
    this.child.once("exit", (code) => {
      if (this.waiters.size > 0) this.fail(new Error(`load worker ${this.child.pid} exited with ${code}`));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the data of the next `evt` event. */
  next(evt: EventName): Promise<Record<string, unknown>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.set(evt, { resolve, reject }));
  }

  send(command: WorkerCommand): void {
    this.child.send(command);
  }

  prepare(task: WorkerTask): Promise<Record<string, unknown>> {
    const prepared = this.next("prepared");
    this.send({ cmd: "prepare", task });
    return prepared;
  }

  async finish(): Promise<Record<string, unknown>> {
    const finished = this.next("finished");
    this.send({ cmd: "finish" });
    return finished;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }

  private fail(error: Error): void {
    this.failure = error;
    for (const waiter of this.waiters.values()) waiter.reject(error);
    this.waiters.clear();
  }
}

/** Splits `items` round-robin into `n` non-empty parts (fewer when there are fewer items). */
export function split<T>(items: readonly T[], n: number): T[][] {
  const parts: T[][] = Array.from({ length: Math.min(n, items.length) }, () => []);
  items.forEach((item, i) => parts[i % parts.length]!.push(item));
  return parts;
}

/** Sums a numeric progress field over workers. */
export function total(workers: readonly LoadWorker[], field: keyof WorkerProgress): number {
  return workers.reduce((sum, w) => sum + (w.progress[field] ?? 0), 0);
}

/**
 * Starts every prepared worker at once and waits for the end of their measured windows
 * (server, PostgreSQL and load-generator CPU sampled around them), then for their final summaries.
 */
export async function runMeasuredWindow(ctx: BenchContext, workers: readonly LoadWorker[]) {
  const pids = workers.map((w) => w.pid);
  const before = cpuSnapshot(ctx.servers, ctx.embedded, pids);
  const measured = await Promise.all(
    workers.map((w) => {
      const m = w.next("measured");
      w.send({ cmd: "start" });
      return m;
    }),
  );
  const after = cpuSnapshot(ctx.servers, ctx.embedded, pids);
  const finished = await Promise.all(workers.map((w) => w.finish()));
  return { cpu: cpuBetween(before, after), measured, finished };
}
