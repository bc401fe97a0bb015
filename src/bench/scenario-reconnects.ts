import type { BenchContext } from "./context.js";
import { type CpuFigures, type CpuPerMessage, cpuBetween, cpuPerMessage, cpuSnapshot } from "./cpu.js";
import { newHistogram, type Percentiles, percentiles } from "./histogram.js";
import { note, ProgressLine } from "./progress.js";
import { registerUsers, runTag } from "./users.js";
import { LoadWorker, total } from "./workers.js";

export interface ReconnectsResult {
  recipients: number;
  sendRate: number;
  reconnectRate: number;
  seconds: number;
  steady: PhaseFigures;
  storm: PhaseFigures & {
    reconnects: number;
    reconnectsPerSecond: number;
    /** Stream dropped → resumed stream's caught_up, ms. */
    resumeMs: Percentiles;
    /** Server, PostgreSQL and load-generator CPU the storm added, per reconnect (storm window minus the steady one: the same sends), ms. */
    cpuPerReconnectMs: CpuPerMessage;
  };
  /** Every recipient away, then back at the reconnect rate with a backlog each, nothing else running. */
  resume: {
    backlog: number;
    resumes: number;
    resumeMs: Percentiles;
    cpu: CpuFigures;
    /** Server, PostgreSQL and load-generator CPU of the window, per resume (open, replay of the backlog, caught_up, presence), ms. */
    cpuPerResumeMs: CpuPerMessage;
  };
  sent: number;
  lost: number;
  duplicated: number;
  /** Durable frames whose cursor was not the previous one + 1 on a recipient's streams (gaps or repeats at a resume). */
  cursorErrors: number;
  streamErrors: number;
}

interface PhaseFigures {
  /** Unary SendMessage, send → answer, ms. */
  sendMs: Percentiles;
  cpu: CpuFigures;
}

function percentilesOfMs(samples: readonly number[]): Percentiles {
  const h = newHistogram();
  for (const ms of samples) h.recordValue(Math.max(1, Math.round(ms * 1000)));
  return percentiles(h);
}

/**
 * Scenario 5: a reconnect storm. R recipients hold Connect streams (presence sharing on,
 * as users have it by default), R senders send to them at a fixed rate. First a steady
 * window (sends only), then a storm window of the same length in which recipients also
 * drop their stream and resume from their last cursor at a fixed rate, each resume
 * replaying what was sent meanwhile. The figures: what the storm does to SendMessage
 * latency, what a resume costs the server and PostgreSQL, and that every replay was
 * exact (no gap, no repeat, nothing lost). Last, every recipient goes away, is sent a
 * backlog, and comes back at the same rate with nothing else running: CPU per resume
 * measured on its own, which other load on the machine disturbs far less than the
 * difference of two windows.
 */
export async function runReconnects(ctx: BenchContext): Promise<ReconnectsResult> {
  const o = ctx.options;
  const server = ctx.servers[0]!;
  const count = o.reconnectUsers;
  note(`  registering ${count * 2} users for the reconnect storm`);
  const users = await registerUsers(ctx.setup, `r${runTag()}`, count * 2);
  const recipients = users.filter((_, i) => i % 2 === 1);
  const senders = users.filter((_, i) => i % 2 === 0);
  const worker = new LoadWorker();
  try {
    await worker.prepare({
      kind: "reconnects",
      baseUrl: server.baseUrl,
      connections: Math.min(10, count),
      recipients: recipients.map((u) => u.accessToken),
      senders: senders.map((u) => u.accessToken),
      recipientIds: recipients.map((u) => u.cyphrId),
      sendRate: o.reconnectSendRate,
      reconnectRate: o.reconnectRate,
      seconds: o.reconnectSeconds,
      backlog: o.reconnectBacklog,
      payloadBytes: o.payloadBytes,
      drainSeconds: o.drainSeconds,
    });
    const phase = async (name: "steady" | "storm" | "backlog" | "resume") => {
      const progress = new ProgressLine(`reconnects: ${name}`, () => `sent ${total([worker], "accepted")}  resumed ${total([worker], "opened")}`);
      const before = cpuSnapshot(ctx.servers, ctx.embedded, [worker.pid]);
      const measured = worker.next("measured");
      worker.send({ cmd: "start", args: { phase: name } });
      const data = await measured;
      const after = cpuSnapshot(ctx.servers, ctx.embedded, [worker.pid]);
      progress.stop();
      return { data, cpu: cpuBetween(before, after) };
    };
    const steady = await phase("steady");
    const storm = await phase("storm");
    await phase("backlog");
    const resume = await phase("resume");
    const end = await worker.finish();
    const resumeWindow = resume.data.resumeMs as number[];
    const resumeMs = storm.data.resumeMs as number[];
    const reconnects = resumeMs.length;
    // Both windows send the same messages (open loop, same rate and length): what the storm
    // window used beyond the steady one is the resumes' cost.
    const perReconnect = (stormSeconds: number, steadySeconds: number) => Math.round(((stormSeconds - steadySeconds) * 1e6) / Math.max(1, reconnects)) / 1000;
    return {
      recipients: count,
      sendRate: o.reconnectSendRate,
      reconnectRate: o.reconnectRate,
      seconds: o.reconnectSeconds,
      steady: { sendMs: percentilesOfMs(steady.data.sendMs as number[]), cpu: steady.cpu },
      storm: {
        sendMs: percentilesOfMs(storm.data.sendMs as number[]),
        cpu: storm.cpu,
        reconnects,
        reconnectsPerSecond: Math.round((reconnects / Math.max(1e-9, storm.cpu.windowSeconds)) * 10) / 10,
        resumeMs: percentilesOfMs(resumeMs),
        cpuPerReconnectMs: {
          serverMs: perReconnect(storm.cpu.serverSeconds, steady.cpu.serverSeconds),
          postgresMs: perReconnect(storm.cpu.postgresSeconds, steady.cpu.postgresSeconds),
          loadgenMs: perReconnect(storm.cpu.loadgenSeconds, steady.cpu.loadgenSeconds),
        },
      },
      resume: {
        backlog: o.reconnectBacklog,
        resumes: resumeWindow.length,
        resumeMs: percentilesOfMs(resumeWindow),
        cpu: resume.cpu,
        cpuPerResumeMs: cpuPerMessage(resume.cpu, resumeWindow.length),
      },
      sent: end.sent as number,
      lost: end.lost as number,
      duplicated: end.duplicates as number,
      cursorErrors: end.cursorErrors as number,
      streamErrors: end.streamErrors as number,
    };
  } finally {
    worker.kill();
  }
}
