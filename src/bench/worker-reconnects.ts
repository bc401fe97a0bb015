import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { MessageType, type MessagingService } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { authed, connection, LiveStream, messagingClient, randomPayload, realtimeClient } from "./rpc.js";
import type { Role } from "./worker.js";
import type { ReconnectsTask } from "./worker-protocol.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MAX_SENDS_IN_FLIGHT = 512;

/** One reconnecting recipient: its current stream, the last cursor it processed, what it received. */
interface Recipient {
  token: string;
  stream: LiveStream | undefined;
  /** Counts the streams opened: frames of an earlier (closed) stream still in flight are ignored. */
  epoch: number;
  lastCursor: bigint;
  reconnecting: boolean;
  received: Set<string>;
}

/**
 * Reconnect storm: recipients hold Connect streams; senders send to them at a steady rate
 * (unary SendMessage, open loop). In the "storm" phase recipients also drop their stream
 * and resume from their last cursor at a steady rate, so every resume replays what was
 * sent meanwhile. Reports send latency per phase, resume latency (open → caught_up), and
 * checks every replay: each durable cursor exactly once and in order, every message once.
 * Then ("backlog", "resume") every recipient goes away, gets a backlog, and comes back at
 * the reconnect rate with nothing else running: the cost of a resume on its own.
 */
export function reconnectsRole(task: ReconnectsTask): Role {
  const streamClients = Array.from({ length: task.connections }, () => realtimeClient(connection(task.baseUrl)));
  const sendClients = Array.from({ length: Math.max(1, Math.ceil(task.connections / 2)) }, () => messagingClient(connection(task.baseUrl)));
  const recipients: Recipient[] = task.recipients.map((token) => ({
    token,
    stream: undefined,
    epoch: 0,
    lastCursor: 0n,
    reconnecting: false,
    received: new Set(),
  }));
  const sent = new Map<string, number>(); // client_message_id → recipient index
  let cursorErrors = 0;
  let duplicates = 0;
  let streamErrors = 0;
  let reconnects = 0;

  const onFrame = (r: Recipient, epoch: number) => (frame: ServerFrame) => {
    if (frame.cursor === 0n || r.epoch !== epoch) return;
    if (frame.cursor !== r.lastCursor + 1n) cursorErrors++;
    if (frame.cursor > r.lastCursor) r.lastCursor = frame.cursor;
    if (frame.event.case !== "messageNew") return;
    const id = frame.event.value.clientMessageId;
    if (r.received.has(id)) duplicates++;
    r.received.add(id);
  };

  const open = async (i: number) => {
    const r = recipients[i]!;
    const stream = new LiveStream(streamClients[i % streamClients.length]!, r.token, onFrame(r, ++r.epoch), r.lastCursor);
    r.stream = stream;
    void stream.ended.then((error) => void (error && streamErrors++));
    await stream.caughtUp;
  };

  /** Sends at `rate`/s, round robin over the pairs, until `until`; returns the accept latencies (ms). */
  const sendLoop = async (until: number): Promise<number[]> => {
    const latencies: number[] = [];
    let inFlight = 0;
    const interval = 1000 / task.sendRate;
    let next = performance.now();
    for (let n = 0; performance.now() < until; n++) {
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      if (inFlight >= MAX_SENDS_IN_FLIGHT) continue;
      const i = n % task.senders.length;
      const clientMessageId = randomUUID();
      const client: Client<typeof MessagingService> = sendClients[i % sendClients.length]!;
      inFlight++;
      const t0 = performance.now();
      sent.set(clientMessageId, i);
      void client
        .sendMessage(
          {
            destination: { case: "recipientCyphrId", value: task.recipientIds[i]! },
            clientMessageId,
            payload: randomPayload(task.payloadBytes),
            messageType: MessageType.TEXT,
          },
          authed(task.senders[i]!),
        )
        .then(
          () => latencies.push(performance.now() - t0),
          () => sent.delete(clientMessageId),
        )
        .finally(() => inFlight--);
    }
    while (inFlight > 0) await sleep(5);
    return latencies;
  };

  /** Sends `task.backlog` messages to every recipient, 64 at a time. */
  const sendBacklog = async () => {
    let next = 0;
    const total = task.backlog * recipients.length;
    const run = async () => {
      for (let n = next++; n < total; n = next++) {
        const i = n % recipients.length;
        const clientMessageId = randomUUID();
        sent.set(clientMessageId, i);
        await sendClients[i % sendClients.length]!.sendMessage(
          {
            destination: { case: "recipientCyphrId", value: task.recipientIds[i]! },
            clientMessageId,
            payload: randomPayload(task.payloadBytes),
            messageType: MessageType.TEXT,
          },
          authed(task.senders[i]!),
        ).catch(() => sent.delete(clientMessageId));
      }
    };
    await Promise.all(Array.from({ length: 64 }, run));
  };

  /**
   * Drops and resumes one stream at a time, `rate`/s, round robin, until `until` (or
   * `limit` resumes); returns resume latencies (ms).
   */
  const reconnectLoop = async (until: number, limit = Number.POSITIVE_INFINITY): Promise<number[]> => {
    const latencies: number[] = [];
    const pending: Promise<void>[] = [];
    const interval = 1000 / task.reconnectRate;
    let next = performance.now();
    for (let n = 0; performance.now() < until && n < limit; n++) {
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      const i = n % recipients.length;
      const r = recipients[i]!;
      if (r.reconnecting) continue;
      r.reconnecting = true;
      r.stream?.close();
      const t0 = performance.now();
      pending.push(
        open(i)
          .then(
            () => {
              latencies.push(performance.now() - t0);
              reconnects++;
            },
            () => undefined,
          )
          .finally(() => (r.reconnecting = false)),
      );
    }
    await Promise.all(pending);
    return latencies;
  };

  return {
    async prepare() {
      for (let i = 0; i < recipients.length; i++) await open(i);
      return { opened: recipients.length };
    },
    async start(args, started) {
      if (args?.phase === "backlog") {
        // Setup for the resume window: every recipient goes away, then gets `backlog` messages.
        for (const r of recipients) r.epoch++, r.stream?.close();
        started();
        await sendBacklog();
        return {};
      }
      if (args?.phase === "resume") {
        // Every recipient comes back at the reconnect rate, each replaying its backlog; nothing else runs.
        started();
        const resumeMs = await reconnectLoop(Number.POSITIVE_INFINITY, recipients.length);
        return { sendMs: [], resumeMs };
      }
      const storm = args?.phase === "storm";
      started();
      const until = performance.now() + task.seconds * 1000;
      const [sendMs, resumeMs] = await Promise.all([sendLoop(until), storm ? reconnectLoop(until) : Promise.resolve([])]);
      return { sendMs, resumeMs };
    },
    async finish() {
      const deadline = performance.now() + task.drainSeconds * 1000;
      const missing = () => [...sent].filter(([id, i]) => !recipients[i]!.received.has(id)).length;
      while (missing() > 0 && performance.now() < deadline) await sleep(50);
      const result = { sent: sent.size, lost: missing(), duplicates, cursorErrors, streamErrors, reconnects };
      for (const r of recipients) r.stream?.close();
      return result;
    },
    progress() {
      return { accepted: sent.size, opened: reconnects };
    },
  };
}
