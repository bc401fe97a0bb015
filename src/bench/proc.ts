import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";

/** Clock ticks per second of /proc times (USER_HZ; 100 on Linux unless told otherwise). */
const TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** Own CPU (user + system), seconds. */
  own: number;
  /** CPU of reaped children (cutime + cstime), seconds. */
  children: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const f = text.slice(close + 2).split(" ");
  // Fields after comm: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
  return {
    pid,
    comm,
    ppid: Number(f[1]),
    own: (Number(f[11]) + Number(f[12])) / TICKS,
    children: (Number(f[13]) + Number(f[14])) / TICKS,
  };
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** CPU seconds of one process (user + system). */
export function processCpu(pid: number): number {
  return readStat(pid)?.own ?? 0;
}

/**
 * CPU seconds of every descendant of `pid` (the embedded PostgreSQL: postmaster and
 * backends), including backends that already exited (the postmaster's reaped-children time).
 */
export function descendantsCpu(pid: number): number {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  let total = 0;
  const walk = (p: number) => {
    for (const child of children.get(p) ?? []) {
      total += child.own + child.children;
      walk(child.pid);
    }
  };
  walk(pid);
  return total;
}

/** CPU seconds of every process named postgres on this machine (an external PostgreSQL on loopback). */
export function postgresCpu(): number {
  return allStats()
    .filter((s) => s.comm === "postgres" || s.comm === "postmaster")
    .reduce((sum, s) => sum + s.own + s.children, 0);
}

/** Resident set size of a process, bytes. */
export function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Busy, stolen (by the hypervisor, part of busy) and total CPU time of the whole machine, seconds (from /proc/stat). */
export function machineCpu(): { busy: number; steal: number; total: number } {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / TICKS, steal: (v[7] ?? 0) / TICKS, total: total / TICKS };
}

/** Share of the machine (all cores) busy, and stolen, over `ms`, 0-100: other work running before the benchmark starts. */
export async function machineBusyPercent(ms: number): Promise<{ busy: number; steal: number }> {
  const a = machineCpu();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineCpu();
  const share = (x: number) => Math.round((x / Math.max(1e-9, b.total - a.total)) * 100);
  return { busy: share(b.busy - a.busy), steal: share(b.steal - a.steal) };
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}
