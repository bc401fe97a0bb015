import { sql } from "slonik";
import { z } from "zod";
import { type Db, timestamp, uuid } from "../db/types.js";

export async function registerInstance(db: Db, instanceId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* registerInstance */
    INSERT INTO instances (id) VALUES (${instanceId})
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`);
}

export async function removeInstance(db: Db, instanceId: string): Promise<void> {
  await db.query(sql.unsafe`/* removeInstance */ DELETE FROM instances WHERE id = ${instanceId}`);
}

/** Deletes instances silent for longer than `staleMs`; returns the users whose presence rows went with them. */
export async function reapStaleInstances(db: Db, staleMs: number): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* reapStaleInstances */
    WITH dead AS (
      DELETE FROM instances WHERE heartbeat_at < now() - make_interval(secs => ${staleMs / 1000}) RETURNING id
    )
    DELETE FROM presence p USING dead WHERE p.instance_id = dead.id RETURNING p.user_id`);
  return [...new Set(rows)];
}

export async function presenceRows(db: Db, userId: string): Promise<number> {
  return db.oneFirst(sql.type(z.object({ n: z.number() }))`
    /* presenceRows */ SELECT count(*)::int AS n FROM presence WHERE user_id = ${userId}`);
}

/** Whom to tell about a presence transition, and with what (see 0005_presence_transitions.sql). */
export interface Transition {
  cyphrId: string;
  /** When the user went offline; null for coming online. */
  lastSeen: Date | null;
  peers: readonly string[];
}

const openedRow = z.object({ came_online: z.boolean(), cyphr_id: z.string().nullable(), peers: z.array(uuid).nullable() });

/**
 * Records the user's stream on this instance, in one statement under the user's presence
 * lock; returns the announcement to make when the user came online and shares presence.
 */
export async function openPresence(db: Db, userId: string, instanceId: string): Promise<Transition | null> {
  const row = await db.one(sql.type(openedRow)`
    /* openPresence */ SELECT came_online, cyphr_id, peers FROM cyphr_presence_open(${userId}, ${instanceId})`);
  return row.came_online && row.peers && row.cyphr_id !== null ? { cyphrId: row.cyphr_id, lastSeen: null, peers: row.peers } : null;
}

const closedRow = z.object({ last_seen: timestamp.nullable(), cyphr_id: z.string().nullable(), peers: z.array(uuid).nullable() });

/**
 * Drops the user's presence row of `instanceId` (null: none, the rows are gone already)
 * and, when no instance holds one any more, stores last_seen; one statement under the
 * user's presence lock. Returns the announcement to make when the user went offline and
 * shares presence.
 */
export async function closePresence(db: Db, userId: string, instanceId: string | null): Promise<Transition | null> {
  const row = await db.one(sql.type(closedRow)`
    /* closePresence */ SELECT last_seen, cyphr_id, peers FROM cyphr_presence_close(${userId}, ${instanceId})`);
  return row.last_seen && row.peers && row.cyphr_id !== null ? { cyphrId: row.cyphr_id, lastSeen: row.last_seen, peers: row.peers } : null;
}

const subjectRow = z.object({ cyphr_id: z.string(), share_presence: z.boolean() });

export async function presenceSubject(db: Db, userId: string): Promise<z.infer<typeof subjectRow> | null> {
  return db.maybeOne(sql.type(subjectRow)`
    /* presenceSubject */ SELECT cyphr_id, share_presence FROM identities WHERE id = ${userId}`);
}

/** Who may see `userId`'s presence: chat peers `userId` accepted, no block either way (migration 0014), in one row. */
export async function presenceAudience(db: Db, userId: string): Promise<string[]> {
  return [
    ...(await db.oneFirst(sql.type(z.object({ peers: z.array(z.string()) }))`
      /* presenceAudience */ SELECT cyphr_presence_audience(${userId}) AS peers`)),
  ];
}

/**
 * Whose presence `viewerId` may see when they share it: chat peers who accepted the viewer,
 * no block either way (migration 0014), in one row: an index scan of chat_members and a
 * primary-key probe of contacts and blocks per peer.
 */
export async function presenceSources(db: Db, viewerId: string): Promise<string[]> {
  return [
    ...(await db.oneFirst(sql.type(z.object({ peers: z.array(z.string()) }))`
      /* presenceSources */ SELECT cyphr_presence_sources(${viewerId}) AS peers`)),
  ];
}

/** Where migration 0008 announces each change of whether a user is visibly online. */
export const PRESENCE_CHANNEL = "cyphr_presence";

/** A user who is online on some instance and shares presence. */
export interface VisibleUser {
  userId: string;
  cyphrId: string;
}

const visibleRow = z.object({ user_id: uuid, cyphr_id: z.string() });
const toVisible = (row: z.infer<typeof visibleRow>): VisibleUser => ({ userId: row.user_id, cyphrId: row.cyphr_id });

/** Every user online somewhere who shares presence (the presence directory's load). */
export async function visibleUsers(db: Db): Promise<VisibleUser[]> {
  const rows = await db.any(sql.type(visibleRow)`
    /* visibleUsers */
    SELECT i.id AS user_id, i.cyphr_id FROM identities i
    WHERE i.share_presence AND i.id IN (SELECT p.user_id FROM presence p)`);
  return rows.map(toVisible);
}

/** Of the users whose presence `viewerId` may see, those online now who share it (a scan of each: used while the directory is not ready). */
export async function onlinePeers(db: Db, viewerId: string): Promise<VisibleUser[]> {
  const rows = await db.any(sql.type(visibleRow)`
    /* onlinePeers */
    SELECT i.id AS user_id, i.cyphr_id
    FROM unnest(cyphr_presence_sources(${viewerId})) AS peer (id)
    JOIN identities i ON i.id = peer.id AND i.share_presence
    WHERE EXISTS (SELECT 1 FROM presence p WHERE p.user_id = i.id)`);
  return rows.map(toVisible);
}

/** One of two users who is visibly online, and whether the other may see their presence now. */
export interface PresenceBetween {
  userId: string;
  cyphrId: string;
  otherId: string;
  otherMaySee: boolean;
}

const betweenRow = z.object({ user_id: uuid, cyphr_id: z.string(), other_id: uuid, other_may_see: z.boolean() });

/** Of `a` and `b`, each who is online somewhere and shares presence, with whether the other is in their presence audience. */
export async function presenceBetween(db: Db, a: string, b: string): Promise<PresenceBetween[]> {
  const rows = await db.any(sql.type(betweenRow)`
    /* presenceBetween */
    SELECT i.id AS user_id, i.cyphr_id, pair.other_id, pair.other_id = ANY (cyphr_presence_audience(i.id)) AS other_may_see
    FROM (VALUES (${a}::uuid, ${b}::uuid), (${b}::uuid, ${a}::uuid)) AS pair (user_id, other_id)
    JOIN identities i ON i.id = pair.user_id AND i.share_presence
    WHERE EXISTS (SELECT 1 FROM presence p WHERE p.user_id = i.id)`);
  return rows.map((r) => ({ userId: r.user_id, cyphrId: r.cyphr_id, otherId: r.other_id, otherMaySee: r.other_may_see }));
}

export async function usersPresentOn(db: Db, instanceId: string): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* usersPresentOn */ SELECT user_id FROM presence WHERE instance_id = ${instanceId}`);
  return [...rows];
}
