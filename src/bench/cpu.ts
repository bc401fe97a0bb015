import { descendantsCpu, machineCpu, postgresCpu, processCpu } from "./proc.js";
import type { ServerProcess } from "./server-process.js";

/** CPU counters at one instant. */
export interface CpuSnapshot {
  at: number;
  server: number;
  postgres: number;
  machineBusy: number;
  machineTotal: number;
  harness: number;
}

/** CPU used over a measured window, seconds and share of one core. */
export interface CpuFigures {
  windowSeconds: number;
  serverSeconds: number;
  postgresSeconds: number;
  loadgenSeconds: number;
  /** Busy share of the whole machine (all cores, every process), 0-100. */
  machineBusyPercent: number;
  /** CPU seconds used by processes outside this benchmark (other work on the machine disturbs the figures). */
  otherSeconds: number;
}

/**
 * Server CPU is read from /proc/<pid>/stat of each server process; PostgreSQL's from the
 * embedded postmaster and its backends (descendants of the first server), or from every
 * process named postgres on this machine when an external database is used.
 */
export function cpuSnapshot(servers: readonly ServerProcess[], embedded: boolean): CpuSnapshot {
  const machine = machineCpu();
  const harness = process.cpuUsage();
  return {
    at: performance.now(),
    server: servers.reduce((sum, s) => sum + processCpu(s.pid), 0),
    postgres: embedded && servers[0] ? descendantsCpu(servers[0].pid) : postgresCpu(),
    machineBusy: machine.busy,
    machineTotal: machine.total,
    harness: (harness.user + harness.system) / 1e6,
  };
}

/** Server and PostgreSQL CPU per accepted message, ms: less sensitive to other load on the machine than rates are. */
export function cpuPerMessage(c: CpuFigures, messages: number): { serverMs: number; postgresMs: number } {
  const per = (s: number) => Math.round((s * 1e6) / Math.max(1, messages)) / 1000;
  return { serverMs: per(c.serverSeconds), postgresMs: per(c.postgresSeconds) };
}

/** Figures between two snapshots; `workerCpuSeconds` is what the load workers reported for the same window. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot, workerCpuSeconds: number): CpuFigures {
  const round = (n: number) => Math.round(n * 100) / 100;
  const server = b.server - a.server;
  const postgres = b.postgres - a.postgres;
  const loadgen = workerCpuSeconds + (b.harness - a.harness);
  return {
    windowSeconds: round((b.at - a.at) / 1000),
    serverSeconds: round(server),
    postgresSeconds: round(postgres),
    loadgenSeconds: round(loadgen),
    machineBusyPercent: Math.round(((b.machineBusy - a.machineBusy) / Math.max(1e-9, b.machineTotal - a.machineTotal)) * 100),
    otherSeconds: round(Math.max(0, b.machineBusy - a.machineBusy - server - postgres - loadgen)),
  };
}
