import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import pg from "pg";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { EVENTS_CHANNEL, type ChunkNotice, type DurableNotice, type Notice, type WireNotice } from "../events/channel.js";
import type { DurableKind } from "../events/model.js";
import { ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { findMessagesByRef } from "../messaging/repo.js";
import type { ActiveSessions } from "../identity/active-sessions.js";
import type { StoredMessage } from "../messaging/model.js";
import type { RecentSends } from "../messaging/recent-sends.js";
import { UnauthenticatedError } from "../shared/errors.js";
import { durableFrameBody, messageRef, needsMessage, withCursor } from "./frames.js";
import type { Hub } from "./hub.js";

/** Deliveries between yields to the event loop during a fan-out. */
const FAN_OUT_SLICE = 256;

/**
 * Receives every instance's notices over LISTEN and hands them to this instance's
 * streams. Notices arrive in commit order on one connection and are dispatched in that
 * order; message content is fetched once per notice batch, only when a local stream
 * needs it. If the connection drops, streams are told to resync from the database.
 */
export class EventBus {
  private client: pg.Client | undefined;
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  private batch: DurableNotice[] = [];
  private readonly chunks = new Map<string, { parts: string[]; received: number; at: number }>();
  private reconnectDelayMs = 100;

  constructor(
    private readonly databaseUrl: string,
    private readonly pool: DatabasePool,
    private readonly hub: Hub,
    private readonly log: Logger,
    private readonly activeSessions: ActiveSessions,
    private readonly recentSends: RecentSends,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, keepAlive: true });
    client.on("notification", (msg) => {
      if (msg.channel === EVENTS_CHANNEL && msg.payload) this.receive(msg.payload);
    });
    client.on("error", (err) => this.reconnect(err));
    client.on("end", () => this.reconnect(new Error("listen connection ended")));
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    this.client = client;
    this.reconnectDelayMs = 100;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
    await this.chain;
  }

  private reconnect(error: Error): void {
    if (this.stopped || !this.client) return;
    this.client.removeAllListeners();
    this.client.end().catch(() => undefined);
    this.client = undefined;
    this.log.warn({ err: { message: error.message } }, "event bus lost its LISTEN connection; reconnecting");
    const retry = () => {
      if (this.stopped) return;
      this.start().then(
        () => {
          // Anything committed while we were away is in the database.
          this.activeSessions.forgetAll();
          for (const subscriber of this.hub.all()) subscriber.resync();
        },
        () => {
          this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 5000);
          setTimeout(retry, this.reconnectDelayMs).unref();
        },
      );
    };
    setTimeout(retry, this.reconnectDelayMs).unref();
  }

  private receive(payload: string): void {
    let wire: WireNotice;
    try {
      wire = JSON.parse(payload) as WireNotice;
    } catch {
      this.log.warn("ignoring a malformed notice");
      return;
    }
    const notice = wire.t === "c" ? this.assemble(wire) : wire;
    if (!notice) return;
    switch (notice.t) {
      case "d":
        if (notice.u.some(([user]) => this.hub.has(user))) this.queueDurable(notice);
        return;
      case "x":
        this.dispatchEphemeral(notice);
        return;
      case "r":
        this.activeSessions.revoke(notice.s);
        this.enqueue(async () => {
          for (const subscriber of this.hub.of(notice.u)) {
            if (subscriber.sessionId === notice.s) subscriber.fail(new UnauthenticatedError("session was revoked"));
          }
        });
        return;
    }
  }

  private assemble(chunk: ChunkNotice): Notice | undefined {
    const now = Date.now();
    for (const [id, entry] of this.chunks) if (now - entry.at > 30_000) this.chunks.delete(id);
    let entry = this.chunks.get(chunk.id);
    if (!entry) this.chunks.set(chunk.id, (entry = { parts: new Array<string>(chunk.n), received: 0, at: now }));
    if (entry.parts[chunk.i] === undefined) entry.received++;
    entry.parts[chunk.i] = chunk.p;
    if (entry.received < chunk.n) return undefined;
    this.chunks.delete(chunk.id);
    return JSON.parse(entry.parts.join("")) as Notice;
  }

  /** Durable notices that arrive together are resolved with one query, then dispatched in order. */
  private queueDurable(notice: DurableNotice): void {
    this.batch.push(notice);
    if (this.batch.length > 1) return;
    this.enqueue(async () => {
      const batch = this.batch;
      this.batch = [];
      // Messages this instance sent itself are at hand; others are read back in one query.
      const local = new Map<DurableNotice, StoredMessage>();
      const refs: { chatId: string; seq: number }[] = [];
      const now = Date.now();
      for (const n of batch) {
        if (!needsMessage(n.k as DurableKind) || n.s === null) continue;
        const sent = n.m === undefined ? undefined : this.recentSends.message(n.m, n.s, new Date(n.at), n.ex == null ? null : new Date(n.ex));
        if (!sent) refs.push({ chatId: n.c, seq: n.s });
        // Expired already: no frame, as the database read would not return it either.
        else if (sent.expiresAt === null || sent.expiresAt.getTime() > now) local.set(n, sent);
      }
      const messages = await findMessagesByRef(this.pool, refs);
      let delivered = 0;
      for (const n of batch) {
        const message = local.get(n) ?? (n.s === null ? undefined : messages.get(messageRef(n.c, n.s)));
        const body = durableFrameBody({ kind: n.k as DurableKind, chatId: n.c, seq: n.s, data: n.d }, message, new Date(n.at));
        for (const [user, cursor] of n.u) {
          for (const subscriber of this.hub.of(user)) {
            // An expired message has no frame; the stream still learns the cursor passed.
            subscriber.deliverDurable(withCursor(body ?? { event: { case: undefined } }, cursor));
            // A large fan-out yields to I/O now and then, so that other calls (the
            // sender's own answer among them) are not held up until every stream has it.
            if (++delivered % FAN_OUT_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
          }
        }
      }
    });
  }

  private dispatchEphemeral(notice: Extract<Notice, { t: "x" }>): void {
    const targets = notice.u.flatMap((user) => [...this.hub.of(user)]).filter(
      (s) => (notice.only === undefined || s.sessionId === notice.only) && (notice.except === undefined || s.sessionId !== notice.except),
    );
    if (targets.length === 0) return;
    this.enqueue(async () => {
      const frame = fromJson(ServerFrameSchema, notice.f as JsonValue);
      for (const subscriber of targets) subscriber.deliverEphemeral(frame);
    });
  }

  /** Runs dispatch steps one after another, so frames keep commit order. */
  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => {
      this.log.error({ err: { message: (err as Error).message } }, "event dispatch failed; resyncing streams");
      for (const subscriber of this.hub.all()) subscriber.resync();
    });
  }
}
