import pg from "pg";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { PRESENCE_CHANNEL, visibleUsers } from "./presence-repo.js";

const MAX_RECONNECT_DELAY_MS = 5_000;

/**
 * Who is visibly online across the cluster (has a presence row on some instance and
 * shares presence), kept in memory on each instance, so that a stream's presence snapshot
 * is the user's chat peers intersected with this set instead of a scan of every peer's
 * presence and profile.
 *
 * Fed by `cyphr_presence` notices (migration 0008): each carries a user's state after a
 * change (a presence row written or removed on any instance, or share_presence changed),
 * and notices about one user arrive in the order of their states, so applying them in
 * order is enough. On connecting, and on every reconnect of its LISTEN connection (notices
 * sent while it was away are lost), it loads the whole set, then applies over it the
 * notices that arrived during the load (the newest per user). While it is not connected
 * and loaded, `ready` is false and callers read the database instead.
 *
 * Bounds: one entry (user id and cyphr id) per visibly online user of the cluster; while
 * loading, at most one pending state per user.
 */
export class PresenceDirectory {
  private readonly visible = new Map<string, string>();
  /** While loading: the newest state per user received meanwhile (cyphr id, or null: not visible). */
  private pending: Map<string, string | null> | undefined;
  private client: pg.Client | undefined;
  private loaded = false;
  private stopped = false;
  private reconnectDelayMs = 100;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly pool: DatabasePool,
    private readonly log: Logger,
  ) {}

  /** True while the set follows the database (connected and loaded). */
  get ready(): boolean {
    return this.loaded && this.client !== undefined;
  }

  /** Visibly online users known, anywhere in the cluster. */
  get size(): number {
    return this.visible.size;
  }

  /** The cyphr id of `userId` when visibly online, else undefined. */
  cyphrIdOf(userId: string): string | undefined {
    return this.visible.get(userId);
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, keepAlive: true, application_name: "cyphr-presence-directory" });
    client.on("notification", (msg) => {
      if (msg.channel === PRESENCE_CHANNEL && msg.payload && this.client === client) this.received(msg.payload);
    });
    client.on("error", (err) => this.lost(client, err));
    client.on("end", () => this.lost(client, new Error("presence connection ended")));
    try {
      await client.connect();
      await client.query(`LISTEN ${PRESENCE_CHANNEL}`);
      if (this.stopped) throw new Error("presence directory stopped");
      this.client = client;
      // Every change committed from now on is also a notice: kept aside until the load is in.
      this.pending = new Map();
      const everyone = await visibleUsers(this.pool);
      if (this.client !== client) throw new Error("presence connection lost while loading");
      this.visible.clear();
      for (const { userId, cyphrId } of everyone) this.visible.set(userId, cyphrId);
      for (const [userId, cyphrId] of this.pending) this.apply(userId, cyphrId);
      this.pending = undefined;
      this.loaded = true;
    } catch (error) {
      this.close(client);
      throw error;
    }
    this.reconnectDelayMs = 100;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    if (this.client) this.close(this.client);
  }

  /** "<user id> <cyphr id>": visibly online; "<user id>": not. */
  private received(payload: string): void {
    const space = payload.indexOf(" ");
    const userId = space < 0 ? payload : payload.slice(0, space);
    const cyphrId = space < 0 ? null : payload.slice(space + 1);
    if (this.pending) this.pending.set(userId, cyphrId);
    else this.apply(userId, cyphrId);
  }

  private apply(userId: string, cyphrId: string | null): void {
    if (cyphrId === null) this.visible.delete(userId);
    else this.visible.set(userId, cyphrId);
  }

  /** The LISTEN connection failed: notices may be lost from now on, so reload once reconnected. */
  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client) return;
    this.close(client);
    if (this.stopped) return;
    this.log.warn({ err: { message: error.message } }, "presence directory lost its LISTEN connection; reconnecting");
    this.scheduleReconnect();
  }

  private close(client: pg.Client): void {
    if (this.client === client) {
      this.client = undefined;
      this.loaded = false;
      this.pending = undefined;
    }
    client.removeAllListeners();
    client.on("error", () => undefined);
    client.end().catch(() => undefined);
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.stopped) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped || this.client) return;
      this.start().catch((err: unknown) => {
        this.log.warn({ err: { message: (err as Error).message } }, "presence directory reconnect failed");
        this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, MAX_RECONNECT_DELAY_MS);
        this.scheduleReconnect();
      });
    }, this.reconnectDelayMs);
    this.reconnectTimer.unref();
  }
}
