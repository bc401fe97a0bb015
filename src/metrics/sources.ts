import { Gauge } from "prom-client";
import { type DatabasePool, sql } from "slonik";
import { z } from "zod";
import { registry } from "./registry.js";

/** What one server instance exposes when scraped: its pool, and its event bus's queue. */
export interface InstanceSource {
  pool: DatabasePool;
  /** Dispatch steps of the event bus received but not yet run. */
  busBacklog(): number;
}

const sources = new Set<InstanceSource>();

new Gauge({
  name: "cyphr_db_pool_connections",
  help: "Database connections of the pool by state: in_use (acquired), idle, waiting (callers queued for a connection).",
  labelNames: ["state"] as const,
  registers: [registry],
  collect() {
    let inUse = 0;
    let idle = 0;
    let waiting = 0;
    for (const { pool } of sources) {
      const state = pool.state();
      inUse += state.acquiredConnections;
      idle += state.idleConnections;
      waiting += state.waitingClients;
    }
    this.set({ state: "in_use" }, inUse);
    this.set({ state: "idle" }, idle);
    this.set({ state: "waiting" }, waiting);
  },
});

new Gauge({
  name: "cyphr_notify_backlog",
  help: "Event notices received over LISTEN whose dispatch to local streams has not run yet.",
  registers: [registry],
  collect() {
    let backlog = 0;
    for (const source of sources) backlog += source.busBacklog();
    this.set(backlog);
  },
});

new Gauge({
  name: "cyphr_notify_queue_usage_ratio",
  help: "Fraction of PostgreSQL's NOTIFY queue in use (pg_notification_queue_usage): notices committed but not yet read by every listener.",
  registers: [registry],
  async collect() {
    const [source] = sources;
    if (!source) return;
    const usage = await source.pool
      .oneFirst(sql.type(z.object({ usage: z.number() }))`/* notifyQueueUsage */ SELECT pg_notification_queue_usage()::float8 AS usage`)
      .catch(() => undefined);
    if (usage !== undefined) this.set(usage);
  },
});

/** Includes an instance in what the gauges report until the returned function is called. */
export function watchInstance(source: InstanceSource): () => void {
  sources.add(source);
  return () => sources.delete(source);
}
