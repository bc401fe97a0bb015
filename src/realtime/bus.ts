import pg from "pg";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { withCursor } from "../delivery/durable-frames.js";
import { framesForNotices } from "../delivery/event-frames.js";
import { type DurableNotice, type EphemeralNotice, EVENTS_CHANNEL, type Notice } from "../delivery/notice.js";
import { NoticeDecoder } from "../delivery/notice-codec.js";
import type { RecentSends } from "../delivery/recent-sends.js";
import type { ActiveSessions } from "../identity/active-sessions.js";
import { recordFanOut } from "../metrics/registry.js";
import { UnauthenticatedError } from "../shared/errors.js";
import type { Hub } from "./hub.js";

/** Deliveries between yields to the event loop during a fan-out. */
const FAN_OUT_SLICE = 256;

/**
 * Receives every instance's notices over LISTEN and routes their frames to this instance's
 * streams. Notices arrive in commit order on one connection and are dispatched in that
 * order; delivery (src/delivery/) decodes them and builds the frames, looking messages up
 * once per notice batch, only when a local stream needs them. If the connection drops,
 * streams are told to resync from the database.
 */
export class EventBus {
  private client: pg.Client | undefined;
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  private batch: DurableNotice[] = [];
  private readonly decoder = new NoticeDecoder();
  private reconnectDelayMs = 100;
  private pendingSteps = 0;

  constructor(
    private readonly databaseUrl: string,
    private readonly pool: DatabasePool,
    private readonly hub: Hub,
    private readonly log: Logger,
    private readonly activeSessions: ActiveSessions,
    private readonly recentSends: RecentSends,
  ) {}

  /** Dispatch steps queued and not yet finished (the metrics' NOTIFY backlog). */
  get backlog(): number {
    return this.pendingSteps;
  }

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
    let notice: Notice | undefined;
    try {
      notice = this.decoder.decode(payload);
    } catch {
      this.log.warn("ignoring a malformed notice");
      return;
    }
    if (!notice) return;
    switch (notice.type) {
      case "durable":
        if (notice.recipients.some(([user]) => this.hub.has(user))) this.queueDurable(notice);
        return;
      case "ephemeral":
        this.dispatchEphemeral(notice);
        return;
      case "revoke": {
        const { userId, sessionId } = notice;
        this.activeSessions.revoke(sessionId);
        this.enqueue(async () => {
          for (const subscriber of this.hub.of(userId)) {
            if (subscriber.sessionId === sessionId) subscriber.fail(new UnauthenticatedError("session was revoked"));
          }
        });
        return;
      }
    }
  }

  /** Durable notices that arrive together are resolved with one lookup, then dispatched in order. */
  private queueDurable(notice: DurableNotice): void {
    this.batch.push(notice);
    if (this.batch.length > 1) return;
    this.enqueue(async () => {
      const batch = this.batch;
      this.batch = [];
      const bodies = await framesForNotices(this.pool, this.recentSends, batch);
      let delivered = 0;
      for (const [i, notice] of batch.entries()) {
        for (const [user, cursor] of notice.recipients) {
          for (const subscriber of this.hub.of(user)) {
            subscriber.deliverDurable(withCursor(bodies[i]!, cursor));
            recordFanOut(notice.at);
            // A large fan-out yields to I/O now and then, so that other calls (the
            // sender's own answer among them) are not held up until every stream has it.
            if (++delivered % FAN_OUT_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
          }
        }
      }
    });
  }

  private dispatchEphemeral(notice: EphemeralNotice): void {
    const { onlySession, exceptSession } = notice;
    const targets = notice.users
      .flatMap((user) => [...this.hub.of(user)])
      .filter((s) => (onlySession === undefined || s.sessionId === onlySession) && (exceptSession === undefined || s.sessionId !== exceptSession));
    if (targets.length === 0) return;
    this.enqueue(async () => {
      for (const subscriber of targets) subscriber.deliverEphemeral(notice.frame);
    });
  }

  /** Runs dispatch steps one after another, so frames keep commit order. */
  private enqueue(step: () => Promise<void>): void {
    this.pendingSteps++;
    this.chain = this.chain
      .then(step)
      .catch((err: unknown) => {
        this.log.error({ err: { message: (err as Error).message } }, "event dispatch failed; resyncing streams");
        for (const subscriber of this.hub.all()) subscriber.resync();
      })
      .finally(() => this.pendingSteps--);
  }
}
