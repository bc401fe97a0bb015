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

/** Serializes presence transitions of one user across instances (until commit). */
export async function lockUserPresence(db: Db, userId: string): Promise<void> {
  await db.query(sql.unsafe`/* lockUserPresence */ SELECT pg_advisory_xact_lock(hashtext(${userId}))`);
}

export async function presenceRows(db: Db, userId: string): Promise<number> {
  return db.oneFirst(sql.type(z.object({ n: z.number() }))`
    /* presenceRows */ SELECT count(*)::int AS n FROM presence WHERE user_id = ${userId}`);
}

export async function addPresence(db: Db, userId: string, instanceId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* addPresence */
    INSERT INTO presence (user_id, instance_id) VALUES (${userId}, ${instanceId}) ON CONFLICT DO NOTHING`);
}

export async function removePresence(db: Db, userId: string, instanceId: string): Promise<void> {
  await db.query(sql.unsafe`
    /* removePresence */ DELETE FROM presence WHERE user_id = ${userId} AND instance_id = ${instanceId}`);
}

export async function touchLastSeen(db: Db, userId: string): Promise<Date> {
  return db.oneFirst(sql.type(z.object({ last_seen_at: timestamp }))`
    /* touchLastSeen */
    UPDATE identities SET last_seen_at = now() WHERE id = ${userId} RETURNING last_seen_at`);
}

const subjectRow = z.object({ cyphr_id: z.string(), share_presence: z.boolean() });

export async function presenceSubject(db: Db, userId: string): Promise<z.infer<typeof subjectRow> | null> {
  return db.maybeOne(sql.type(subjectRow)`
    /* presenceSubject */ SELECT cyphr_id, share_presence FROM identities WHERE id = ${userId}`);
}

/** Users who share a chat with `userId` (both current members). */
export async function chatPeers(db: Db, userId: string): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ user_id: uuid }))`
    /* chatPeers */
    SELECT DISTINCT other.user_id
    FROM chat_members mine
    JOIN chat_members other ON other.chat_id = mine.chat_id AND other.left_seq IS NULL AND other.user_id <> mine.user_id
    WHERE mine.user_id = ${userId} AND mine.left_seq IS NULL`);
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
