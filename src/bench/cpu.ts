import { descendantsCpu, machineCpu, postgresCpu, processCpu } from "./proc.js";
import type { ServerProcess } from "./server-process.js";

/** CPU counters at one instant. */
export interface CpuSnapshot {
  at: number;
  server: number;
  postgres: number;
  machineBusy: number;
  machineSteal: number;
  machineTotal: number;
  /** Each load-generator process's own CPU (from /proc), in the order of the pids given. */
  loadgen: number[];
  /** This orchestrating process's own CPU. */
  harness: number;
}

/** CPU used over a measured window, seconds and share of one core. */
export interface CpuFigures {
  windowSeconds: number;
  serverSeconds: number;
  postgresSeconds: number;
  /** Load-generator processes and the orchestrator together. */
  loadgenSeconds: number;
  /** The busiest load-generator process's CPU in the window, % of one core: near 100 % it, not the server, bounds the run. */
  loadgenBusiestPercent: number;
  /** Busy share of the whole machine (all cores, every process), 0-100. */
  machineBusyPercent: number;
  /** CPU time the hypervisor gave to other guests, share of the whole machine, 0-100 (noisy neighbours disturb every figure). */
  machineStealPercent: number;
  /** CPU seconds used by processes outside this benchmark (other work on the machine disturbs the figures). */
  otherSeconds: number;
}

/**
 * Server CPU is read from /proc/<pid>/stat of each server process; PostgreSQL's from the
 * embedded postmaster and its backends (descendants of the first server), or from every
 * process named postgres on this machine when an external database is used; the load
 * generator's from each of its processes (`loadgenPids`) and this orchestrating process.
 */
export function cpuSnapshot(servers: readonly ServerProcess[], embedded: boolean, loadgenPids: readonly number[]): CpuSnapshot {
  const machine = machineCpu();
  const harness = process.cpuUsage();
  return {
    loadgen: loadgenPids.map(processCpu),
    at: performance.now(),
    server: servers.reduce((sum, s) => sum + processCpu(s.pid), 0),
    postgres: embedded && servers[0] ? descendantsCpu(servers[0].pid) : postgresCpu(),
    machineBusy: machine.busy,
    machineSteal: machine.steal,
    machineTotal: machine.total,
    harness: (harness.user + harness.system) / 1e6,
  };
}

/** CPU per accepted message (or per stream, per resume), ms. */
export interface CpuPerMessage {
  serverMs: number;
  postgresMs: number;
  loadgenMs: number;
}

/** Server, PostgreSQL and load-generator CPU per accepted message, ms: less sensitive to other load on the machine than rates are. */
export function cpuPerMessage(c: CpuFigures, messages: number): CpuPerMessage {
  const per = (s: number) => Math.round((s * 1e6) / Math.max(1, messages)) / 1000;
  return { serverMs: per(c.serverSeconds), postgresMs: per(c.postgresSeconds), loadgenMs: per(c.loadgenSeconds) };
}

/** Figures between two snapshots taken with the same load-generator pids. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuFigures {
  const round = (n: number) => Math.round(n * 100) / 100;
  const windowSeconds = (b.at - a.at) / 1000;
  const server = b.server - a.server;
  const postgres = b.postgres - a.postgres;
  // A process gone before `b` reads 0: its share of the window is lost rather than negative.
  const perProcess = b.loadgen.map((cpu, i) => Math.max(0, cpu - (a.loadgen[i] ?? 0)));
  const loadgen = perProcess.reduce((sum, s) => sum + s, 0) + (b.harness - a.harness);
  return {
    windowSeconds: round(windowSeconds),
    serverSeconds: round(server),
    postgresSeconds: round(postgres),
    loadgenSeconds: round(loadgen),
    loadgenBusiestPercent: Math.round((Math.max(0, ...perProcess) / Math.max(1e-9, windowSeconds)) * 100),
    machineBusyPercent: Math.round(((b.machineBusy - a.machineBusy) / Math.max(1e-9, b.machineTotal - a.machineTotal)) * 100),
    machineStealPercent: Math.round(((b.machineSteal - a.machineSteal) / Math.max(1e-9, b.machineTotal - a.machineTotal)) * 100),
    otherSeconds: round(Math.max(0, b.machineBusy - a.machineBusy - server - postgres - loadgen)),
  };
}
