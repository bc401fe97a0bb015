import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { GroupsService } from "../gen/cyphr/groups/v1/groups_pb.js";
import { MessageType, MessagingService } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import type { BenchContext } from "./context.js";
import { type CpuFigures, type CpuPerMessage, cpuBetween, cpuPerMessage, cpuSnapshot } from "./cpu.js";
import { rssBytes } from "./proc.js";
import { note, ProgressLine } from "./progress.js";
import { authed, randomPayload } from "./rpc.js";
import { REPO_ROOT } from "./server-process.js";
import { hidePresence, registerUsers, runTag } from "./users.js";
import { LoadWorker, total } from "./workers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;
const MiB = 2 ** 20;

export interface StreamsResult {
  streams: number;
  connections: number;
  users: number;
  /** Load-generator processes holding the streams. */
  loadgenProcesses: number;
  opened: number;
  openSeconds: number;
  /** RSS of the load-generator processes holding the streams (all of them), MiB. */
  clientRssMiB: number;
  /** Server memory before opening the streams and at steady state with all open (after a full GC). */
  memory: {
    rssBeforeMiB: number;
    rssAfterMiB: number;
    heapUsedBeforeMiB: number;
    heapUsedAfterMiB: number;
    /** (after − before) / streams, bytes. */
    rssPerStreamBytes: number;
    heapPerStreamBytes: number;
    externalPerStreamBytes: number;
  };
  push: {
    /** Streams that received the pushed message. */
    arrived: number;
    missing: number;
    duplicated: number;
    /** Send → the server's answer (commit), ms. */
    acceptMs: number;
    /** Send → arrival, ms: first, median, p99, last. */
    firstMs: number;
    p50Ms: number;
    p99Ms: number;
    lastMs: number;
    /** Arrivals per second between send and the last arrival. */
    streamsPerSecond: number;
  };
  streamErrors: string[];
  openCpu: CpuFigures;
  pushCpu: CpuFigures;
  /** Opening: CPU per stream opened, ms. */
  openCpuPerStream: CpuPerMessage;
  /** The push: CPU per stream the message reached, ms. */
  pushCpuPerStream: CpuPerMessage;
}

/**
 * Scenario 3: S authenticated Connect streams of U users over C HTTP/2 connections to one
 * instance. All U users are members of one group, created before the streams open (each
 * stream replays its creation, then is live). Presence sharing is off for them, so
 * opening streams does not announce each user to every other member. One message to the
 * group then reaches every stream.
 */
export async function runStreams(ctx: BenchContext): Promise<StreamsResult> {
  const o = ctx.options;
  const server = ctx.servers[0]!;
  const users = Math.min(o.streamUsers, o.streams);
  note(`  registering ${users + 1} users for streams`);
  const tag = runTag();
  const members = await registerUsers(ctx.setup, `s${tag}`, users, 32);
  const [pusher] = await registerUsers(ctx.setup, `p${tag}`, 1);
  await hidePresence(ctx.setup, members);
  const groups = createClient(GroupsService, ctx.setup);
  const { group } = await groups.createGroup(
    { encryptedName: randomBytes(32), memberCyphrIds: members.map((m) => m.cyphrId) },
    authed(pusher!.accessToken, { timeoutMs: 600_000 }),
  );
  const tokens = Array.from({ length: o.streams }, (_, i) => members[i % users]!.accessToken);

  await sleep(1000);
  const memBefore = await server.stats(true);
  const rssBefore = rssBytes(server.pid);

  const workerCount = Math.min(o.streamWorkers, o.connections);
  const workers = Array.from({ length: workerCount }, () => new LoadWorker());
  const pids = workers.map((w) => w.pid);
  try {
    await Promise.all(workers.map((w) => w.ready));
    const progress = new ProgressLine(
      `streams: opening ${o.streams}`,
      () => `open ${total(workers, "opened")}  server RSS ${Math.round(rssBytes(server.pid) / MiB)} MiB`,
    );
    const openBefore = cpuSnapshot(ctx.servers, ctx.embedded, pids);
    // Connection c carries streams c, c+C, c+2C, …; worker w holds connections w, w+W, …
    const prepared = await Promise.all(
      workers.map((w, wi) => {
        const connections = Array.from({ length: o.connections }, (_, c) => c).filter((c) => c % workerCount === wi);
        const mine = tokens.filter((_, i) => connections.includes(i % o.connections));
        return w.prepare({ kind: "streams", baseUrl: server.baseUrl, connections: connections.length, tokens: mine, openConcurrency: 256 });
      }),
    );
    const openAfter = cpuSnapshot(ctx.servers, ctx.embedded, pids);
    progress.stop();
    const opened = prepared.reduce((s, p) => s + (p.opened as number), 0);

    await sleep(3000); // steady state: nothing in flight
    const memAfter = await server.stats(true);
    const rssAfter = rssBytes(server.pid);
    if (o.heapSnapshot) {
      const file = path.join(REPO_ROOT, "bench-results", "profiles", `server-${opened}-streams-${Date.now()}.heapsnapshot`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await server.heapSnapshot(file);
      note(`  heap snapshot: ${file}`);
    }

    const pushProgress = new ProgressLine("streams: push", () => `arrived ${total(workers, "arrived")}/${opened}`);
    const clientMessageId = randomUUID();
    const started = workers.map((w) => w.next("started"));
    const measuredP = Promise.all(workers.map((w) => w.next("measured")));
    for (const w of workers) w.send({ cmd: "start", args: { clientMessageId, timeoutMs: 60_000 + o.streams } });
    await Promise.all(started);
    const pushBefore = cpuSnapshot(ctx.servers, ctx.embedded, pids);
    const sentAt = monotonicMs();
    await createClient(MessagingService, ctx.setup).sendMessage(
      { destination: { case: "chatId", value: group!.chatId }, clientMessageId, payload: randomPayload(o.payloadBytes), messageType: MessageType.TEXT },
      authed(pusher!.accessToken, { timeoutMs: 600_000 }),
    );
    const acceptMs = monotonicMs() - sentAt;
    const measured = await measuredP;
    const pushAfter = cpuSnapshot(ctx.servers, ctx.embedded, pids);
    pushProgress.stop();
    const arrivals = measured
      .flatMap((m) => m.arrivals as number[])
      .map((t) => t - sentAt)
      .sort((a, b) => a - b);
    const finished = await Promise.all(workers.map((w) => w.finish()));
    const at = (q: number) => round(arrivals[Math.min(arrivals.length - 1, Math.floor(q * arrivals.length))] ?? NaN);
    const perStream = (after: number, before: number) => Math.round((after - before) / Math.max(1, opened));
    const openCpu = cpuBetween(openBefore, openAfter);
    const pushCpu = cpuBetween(pushBefore, pushAfter);
    return {
      streams: o.streams,
      connections: o.connections,
      users,
      loadgenProcesses: workers.length,
      opened,
      openSeconds: round(Math.max(...prepared.map((p) => p.openSeconds as number))),
      clientRssMiB: round(prepared.reduce((s, p) => s + (p.rss as number), 0) / MiB),
      memory: {
        rssBeforeMiB: round(rssBefore / MiB),
        rssAfterMiB: round(rssAfter / MiB),
        heapUsedBeforeMiB: round(memBefore.memory.heapUsed / MiB),
        heapUsedAfterMiB: round(memAfter.memory.heapUsed / MiB),
        rssPerStreamBytes: perStream(rssAfter, rssBefore),
        heapPerStreamBytes: perStream(memAfter.memory.heapUsed, memBefore.memory.heapUsed),
        externalPerStreamBytes: perStream(memAfter.memory.external + memAfter.memory.arrayBuffers, memBefore.memory.external + memBefore.memory.arrayBuffers),
      },
      push: {
        arrived: arrivals.length,
        missing: measured.reduce((s, m) => s + (m.missing as number), 0),
        duplicated: measured.reduce((s, m) => s + (m.duplicates as number), 0),
        acceptMs: round(acceptMs),
        firstMs: round(arrivals[0] ?? NaN),
        p50Ms: at(0.5),
        p99Ms: at(0.99),
        lastMs: round(arrivals[arrivals.length - 1] ?? NaN),
        streamsPerSecond: Math.round(arrivals.length / (Math.max(1, arrivals[arrivals.length - 1] ?? 1) / 1000)),
      },
      streamErrors: finished.flatMap((f) => f.streamErrors as string[]),
      openCpu,
      pushCpu,
      openCpuPerStream: cpuPerMessage(openCpu, opened),
      pushCpuPerStream: cpuPerMessage(pushCpu, arrivals.length),
    };
  } finally {
    workers.forEach((w) => w.kill());
    await sleep(2000); // let the server close the streams before the next scenario
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
