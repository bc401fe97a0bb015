import { sql } from "slonik";
import { z } from "zod";
import { timestamp, uuid, type Db } from "../db/types.js";

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

/** Users who share a chat with `userId` (both current members). */
export async function chatPeers(db: Db, userId: string): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* chatPeers */ SELECT unnest(cyphr_chat_peers(${userId})) AS user_id`);
  return [...rows];
}

const onlinePeerRow = z.object({ user_id: uuid, cyphr_id: z.string() });

/** Peers of `userId` who are online now and share their presence. */
export async function onlinePeers(db: Db, userId: string): Promise<readonly z.infer<typeof onlinePeerRow>[]> {
  return db.any(sql.type(onlinePeerRow)`
    /* onlinePeers */
    SELECT DISTINCT i.id AS user_id, i.cyphr_id
    FROM chat_members mine
    JOIN chat_members other ON other.chat_id = mine.chat_id AND other.left_seq IS NULL AND other.user_id <> mine.user_id
    JOIN identities i ON i.id = other.user_id AND i.share_presence
    WHERE mine.user_id = ${userId} AND mine.left_seq IS NULL
      AND EXISTS (SELECT 1 FROM presence p WHERE p.user_id = i.id)`);
}

export async function usersPresentOn(db: Db, instanceId: string): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* usersPresentOn */ SELECT user_id FROM presence WHERE instance_id = ${instanceId}`);
  return [...rows];
}
