import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { ephemeralFrame } from "./frames.js";
import type { Hub } from "./hub.js";
import { PresenceDirectory } from "./presence-directory.js";
import {
  closePresence,
  onlinePeers,
  openPresence,
  presenceAudience,
  presenceBetween,
  presenceRows,
  presenceSources,
  presenceSubject,
  reapStaleInstances,
  registerInstance,
  removeInstance,
  type Transition,
  usersPresentOn,
  type VisibleUser,
} from "./presence-repo.js";
import { publishEphemeral } from "./publish.js";

const INSTANCE_HEARTBEAT_MS = 10_000;
const INSTANCE_STALE_MS = 45_000;

/**
 * A user is online while any instance holds a stream of theirs (a `presence` row per
 * instance). Transitions (first stream anywhere opens, last one closes) are decided
 * under a per-user advisory lock, one statement each (0005_presence_transitions.sql), and
 * announced to the chat peers the user accepted, never across a block (migration 0014),
 * unless the user turned presence sharing off. A stream opening
 * or closing while the user has other streams on this instance touches no database at
 * all. Instances that stop heartbeating lose their rows.
 *
 * The snapshot a stream gets after caught_up comes from the in-memory directory of users
 * visibly online in the cluster (src/realtime/presence-directory.ts): no query at all when
 * nobody else is visibly online, else one statement for the ids of the peers who accepted
 * the user (cyphr_presence_sources), intersected in memory; it reads the database the old
 * way only while the directory is reconnecting.
 */
export class Presence {
  private readonly chains = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  readonly directory: PresenceDirectory;

  constructor(
    private readonly pool: DatabasePool,
    private readonly hub: Hub,
    private readonly instanceId: string,
    private readonly log: Logger,
    databaseUrl: string,
  ) {
    this.directory = new PresenceDirectory(databaseUrl, pool, log);
  }

  async start(): Promise<void> {
    await this.directory.start();
    await registerInstance(this.pool, this.instanceId);
    this.timer = setInterval(() => void this.beat(), INSTANCE_HEARTBEAT_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.chains.values());
    const users = await usersPresentOn(this.pool, this.instanceId).catch(() => [] as string[]);
    await removeInstance(this.pool, this.instanceId).catch(() => undefined);
    for (const user of users) await this.announceIfOffline(user).catch(() => undefined);
    await this.directory.stop();
  }

  /** Presence frames for the peers the user may see who are online now and share it (sent after caught_up). */
  async snapshot(userId: string): Promise<ServerFrame[]> {
    return (await this.visiblePeers(userId)).map(({ userId: peer, cyphrId }) =>
      ephemeralFrame({ case: "presence", value: { userId: peer, cyphrId, online: true } }),
    );
  }

  private async visiblePeers(userId: string): Promise<VisibleUser[]> {
    const directory = this.directory;
    if (!directory.ready) return onlinePeers(this.pool, userId);
    const othersVisible = directory.size - (directory.cyphrIdOf(userId) === undefined ? 0 : 1);
    if (othersVisible === 0) return [];
    const visible: VisibleUser[] = [];
    for (const peer of await presenceSources(this.pool, userId)) {
      const cyphrId = directory.cyphrIdOf(peer);
      if (cyphrId !== undefined) visible.push({ userId: peer, cyphrId });
    }
    return visible;
  }

  /**
   * The user turned presence sharing on or off while online: peers learn it at once (off
   * looks like going offline now; on, like coming online).
   */
  async sharingChanged(userId: string, sharing: boolean): Promise<void> {
    const online = (await presenceRows(this.pool, userId)) > 0;
    const subject = await presenceSubject(this.pool, userId);
    // Peers only ever saw an online user change: nothing to correct while offline.
    if (!subject || !online) return;
    const peers = await presenceAudience(this.pool, userId);
    await publishEphemeral(
      this.pool,
      { users: peers },
      {
        case: "presence",
        value: { userId, cyphrId: subject.cyphr_id, online: sharing && online, lastSeen: sharing ? undefined : timestampFromDate(new Date()) },
      },
    );
  }

  /**
   * Who may see whom between `a` and `b` changed (a block, an accepted request): each of the
   * two who is visibly online is shown to the other as they now may see them, online, or
   * offline as when going away (a blocked user cannot tell the block from the blocker
   * leaving). Nothing is sent about someone offline or not sharing: the other sees them
   * offline already.
   */
  async relationChanged(a: string, b: string): Promise<void> {
    for (const { userId, cyphrId, otherId, otherMaySee } of await presenceBetween(this.pool, a, b)) {
      await publishEphemeral(
        this.pool,
        { users: [otherId] },
        {
          case: "presence",
          value: { userId, cyphrId, online: otherMaySee, lastSeen: otherMaySee ? undefined : timestampFromDate(new Date()) },
        },
      );
    }
  }

  /** Call after the stream was added to the hub. */
  opened(userId: string): void {
    if (this.hub.count(userId) !== 1) return;
    this.serially(userId, async () => {
      if (this.hub.count(userId) === 0) return;
      await this.announce(userId, await openPresence(this.pool, userId, this.instanceId));
    });
  }

  /** Call after the stream was removed from the hub. */
  closed(userId: string): void {
    if (this.hub.count(userId) !== 0) return;
    this.serially(userId, async () => {
      if (this.hub.count(userId) !== 0) return;
      await this.announce(userId, await closePresence(this.pool, userId, this.instanceId));
    });
  }

  /** The user's rows went with a stopped instance: announce them offline if no instance holds one. */
  private async announceIfOffline(userId: string): Promise<void> {
    await this.announce(userId, await closePresence(this.pool, userId, null));
  }

  private async announce(userId: string, transition: Transition | null): Promise<void> {
    if (!transition) return;
    const { cyphrId, lastSeen, peers } = transition;
    await publishEphemeral(
      this.pool,
      { users: peers },
      {
        case: "presence",
        value: { userId, cyphrId, online: lastSeen === null, lastSeen: lastSeen ? timestampFromDate(lastSeen) : undefined },
      },
    );
  }

  private async beat(): Promise<void> {
    try {
      await registerInstance(this.pool, this.instanceId);
      for (const user of await reapStaleInstances(this.pool, INSTANCE_STALE_MS)) await this.announceIfOffline(user);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, "presence heartbeat failed");
    }
  }

  private serially(userId: string, step: () => Promise<void>): void {
    const previous = this.chains.get(userId) ?? Promise.resolve();
    const next = previous
      .then(step)
      .catch((err: unknown) => this.log.warn({ err: { message: (err as Error).message } }, "presence update failed"))
      .finally(() => {
        if (this.chains.get(userId) === next) this.chains.delete(userId);
      });
    this.chains.set(userId, next);
  }
}
