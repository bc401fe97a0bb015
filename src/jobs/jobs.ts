/**
 * The one place periodic jobs run: purges, retention, expiry. Each job runs every
 * `intervalMs`, never overlapping itself (a tick that finds the previous run still going is
 * skipped and counted), logs the same line ("job ran" with its name, rows and duration; "job
 * failed" with the error's message only), and is measured: cyphr_job_runs_total{job,outcome},
 * cyphr_job_duration_seconds{job}, cyphr_job_rows_total{job}.
 *
 * Jobs read time from the injected clock and receive it as `now`: a job compares rows with
 * that instant (pass it to SQL as a parameter, never `now()`), so tests move time by running
 * a job at a later instant (`jobs.run(name, later)`) instead of sleeping.
 *
 * Another domain registers its job in the composition root (src/app.ts), next to the others
 * in `registerJobs` (src/jobs/schedule.ts) or right after it:
 *
 *   app.jobs.register({
 *     name: "attachments.expired",      // metric label and log field: domain.what, fixed
 *     intervalMs: 10 * 60_000,
 *     run: (now) => inBatches(1000, (batch) => purgeExpiredAttachments(pool, now, batch)),
 *   });
 *
 * `run` returns how many rows it affected; `inBatches` (src/jobs/batches.ts) repeats a
 * bounded DELETE until a batch comes back short, so no statement holds locks for long.
 */
import type { Logger } from "pino";
import { Counter, Histogram } from "prom-client";
import { registry } from "../metrics/registry.js";

export interface Job {
  /** Fixed, low-cardinality name ("domain.what"): the metric label and the log field. */
  name: string;
  /** Time between runs, in milliseconds. */
  intervalMs: number;
  /** Does one run as of `now`; resolves with the rows it affected. */
  run(now: Date): Promise<number>;
}

/** The time source of jobs; tests pass their own. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/** How a run ended: "skipped" when the previous run of the same job was still going. */
export type JobOutcome = { outcome: "ok"; rows: number } | { outcome: "failed"; error: Error } | { outcome: "skipped" };

const runs = new Counter({
  name: "cyphr_job_runs_total",
  help: "Periodic job runs by job and outcome (ok, failed, skipped: the previous run was still going).",
  labelNames: ["job", "outcome"] as const,
  registers: [registry],
});
const duration = new Histogram({
  name: "cyphr_job_duration_seconds",
  help: "Duration of periodic job runs, in seconds.",
  labelNames: ["job"] as const,
  buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
  registers: [registry],
});
const rows = new Counter({
  name: "cyphr_job_rows_total",
  help: "Rows affected (purged, expired) by periodic jobs.",
  labelNames: ["job"] as const,
  registers: [registry],
});

interface Registered {
  job: Job;
  timer: NodeJS.Timeout | undefined;
  running: Promise<JobOutcome> | undefined;
}

export class Jobs {
  private readonly jobs = new Map<string, Registered>();
  private started = false;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Adds a job; it starts with the others (or at once, if they already run). Names are unique. */
  register(job: Job): void {
    if (this.jobs.has(job.name)) throw new Error(`job ${job.name} is already registered`);
    const entry: Registered = { job, timer: undefined, running: undefined };
    this.jobs.set(job.name, entry);
    if (this.started) this.schedule(entry);
  }

  /** The registered job names. */
  names(): string[] {
    return [...this.jobs.keys()];
  }

  /** Starts every job's timer; the first run of each comes after one interval. */
  start(): void {
    this.started = true;
    for (const entry of this.jobs.values()) this.schedule(entry);
  }

  /**
   * Runs one job now, as of `now` (default: the clock), unless its previous run is still
   * going. Never rejects: a failure is logged, counted and returned.
   */
  run(name: string, now: Date = this.clock()): Promise<JobOutcome> {
    const entry = this.jobs.get(name);
    if (!entry) throw new Error(`no job named ${name} (registered: ${this.names().join(", ")})`);
    if (entry.running) {
      runs.inc({ job: name, outcome: "skipped" });
      return Promise.resolve({ outcome: "skipped" });
    }
    const running = this.execute(entry.job, now).finally(() => (entry.running = undefined));
    entry.running = running;
    return running;
  }

  /** Stops the timers and waits for runs in progress. */
  async stop(): Promise<void> {
    this.started = false;
    for (const entry of this.jobs.values()) clearInterval(entry.timer);
    await Promise.all([...this.jobs.values()].map((e) => e.running));
  }

  private schedule(entry: Registered): void {
    entry.timer = setInterval(() => void this.run(entry.job.name), entry.job.intervalMs);
    entry.timer.unref();
  }

  private async execute(job: Job, now: Date): Promise<JobOutcome> {
    const started = performance.now();
    const end = duration.startTimer({ job: job.name });
    try {
      const affected = await job.run(now);
      end();
      runs.inc({ job: job.name, outcome: "ok" });
      rows.inc({ job: job.name }, affected);
      if (affected > 0) this.log.info({ job: job.name, rows: affected, durationMs: Math.round(performance.now() - started) }, "job ran");
      return { outcome: "ok", rows: affected };
    } catch (err) {
      end();
      runs.inc({ job: job.name, outcome: "failed" });
      const error = err instanceof Error ? err : new Error(String(err));
      this.log.warn({ job: job.name, err: { message: error.message }, durationMs: Math.round(performance.now() - started) }, "job failed");
      return { outcome: "failed", error };
    }
  }
}
