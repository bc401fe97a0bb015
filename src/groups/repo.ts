import { sql } from "slonik";
import { z } from "zod";
import type { LeftReason, Role } from "../chats/model.js";
import { bytes, type Db, timestamp, uuid } from "../db/types.js";

const groupRow = z.object({
  id: uuid,
  kind: z.number(),
  encrypted_name: bytes.nullable(),
  encrypted_settings: bytes.nullable(),
  group_version: z.number(),
  created_at: timestamp,
  member_count: z.number(),
  /** 1 = OPAQUE, 2 = MLS (members change only with an MLS commit: src/mls-chats). */
  protocol: z.number(),
});
export type GroupRow = z.infer<typeof groupRow>;

/** Locks the chat row: membership changes of one group run one at a time. */
export async function lockGroup(db: Db, chatId: string): Promise<GroupRow | null> {
  return db.maybeOne(sql.type(groupRow)`
    /* lockGroup */
    SELECT c.id, c.kind, c.encrypted_name, c.encrypted_settings, c.group_version, c.created_at, c.protocol,
      (SELECT count(*)::int FROM chat_members m WHERE m.chat_id = c.id AND m.left_seq IS NULL) AS member_count
    FROM chats c WHERE c.id = ${chatId}
    FOR UPDATE OF c`);
}

export async function findGroup(db: Db, chatId: string): Promise<GroupRow | null> {
  return db.maybeOne(sql.type(groupRow)`
    /* findGroup */
    SELECT c.id, c.kind, c.encrypted_name, c.encrypted_settings, c.group_version, c.created_at, c.protocol,
      (SELECT count(*)::int FROM chat_members m WHERE m.chat_id = c.id AND m.left_seq IS NULL) AS member_count
    FROM chats c WHERE c.id = ${chatId}`);
}

export async function insertGroupChat(db: Db, group: { id: string; encryptedName: Uint8Array | null; encryptedSettings: Uint8Array | null }): Promise<void> {
  await db.query(sql.unsafe`
    /* insertGroupChat */
    INSERT INTO chats (id, kind, encrypted_name, encrypted_settings)
    VALUES (${group.id}, 2, ${optionalBytes(group.encryptedName)}, ${optionalBytes(group.encryptedSettings)})`);
}

export async function updateGroupData(
  db: Db,
  chatId: string,
  changes: { encryptedName?: Uint8Array | null; encryptedSettings?: Uint8Array | null },
): Promise<void> {
  const sets = [sql.fragment`group_version = group_version`];
  if (changes.encryptedName !== undefined) sets.push(sql.fragment`encrypted_name = ${optionalBytes(changes.encryptedName)}`);
  if (changes.encryptedSettings !== undefined) {
    sets.push(sql.fragment`encrypted_settings = ${optionalBytes(changes.encryptedSettings)}`);
  }
  await db.query(sql.unsafe`
    /* updateGroupData */
    UPDATE chats SET ${sql.join(sets, sql.fragment`, `)} WHERE id = ${chatId}`);
}

/** Increments the group version; returns the new value. */
export async function bumpGroupVersion(db: Db, chatId: string): Promise<number> {
  return db.oneFirst(sql.type(z.object({ group_version: z.number() }))`
    /* bumpGroupVersion */
    UPDATE chats SET group_version = group_version + 1 WHERE id = ${chatId} RETURNING group_version`);
}

/** Adds or re-adds members (a former member starts over at `joinedSeq`). */
export async function upsertMembers(db: Db, chatId: string, members: readonly { userId: string; role: Role }[], joinedSeq: number): Promise<void> {
  await db.query(sql.unsafe`
    /* upsertMembers */
    INSERT INTO chat_members (chat_id, user_id, role, joined_seq)
    SELECT ${chatId}, u.user_id, u.role, ${joinedSeq}
    FROM ${sql.unnest(
      members.map((m) => [m.userId, m.role]),
      ["uuid", "int2"],
    )} AS u (user_id, role)
    ON CONFLICT (chat_id, user_id) DO UPDATE SET
      role = excluded.role, joined_at = now(), joined_seq = excluded.joined_seq,
      left_at = NULL, left_seq = NULL, left_reason = NULL`);
}

export async function endMembership(db: Db, chatId: string, userId: string, reason: LeftReason, leftSeq: number): Promise<void> {
  await db.query(sql.unsafe`
    /* endMembership */
    UPDATE chat_members SET left_at = now(), left_seq = ${leftSeq}, left_reason = ${reason}
    WHERE chat_id = ${chatId} AND user_id = ${userId} AND left_seq IS NULL`);
}

export async function setRole(db: Db, chatId: string, userId: string, role: Role): Promise<void> {
  await db.query(sql.unsafe`
    /* setMemberRole */
    UPDATE chat_members SET role = ${role} WHERE chat_id = ${chatId} AND user_id = ${userId}`);
}

export async function countActiveAdmins(db: Db, chatId: string): Promise<number> {
  return db.oneFirst(sql.type(z.object({ n: z.number() }))`
    /* countActiveAdmins */
    SELECT count(*)::int AS n FROM chat_members WHERE chat_id = ${chatId} AND role = 2 AND left_seq IS NULL`);
}

const memberRow = z.object({
  user_id: uuid,
  cyphr_id: z.string(),
  display_name: z.string().nullable(),
  role: z.number(),
  joined_at: timestamp,
  joined_seq: z.number(),
});
export type MemberRow = z.infer<typeof memberRow>;

/** Current members ordered by Cyphr ID, after `afterCyphrId`. */
export async function listActiveMembers(db: Db, chatId: string, afterCyphrId: string, limit: number): Promise<readonly MemberRow[]> {
  return db.any(sql.type(memberRow)`
    /* listActiveMembers */
    SELECT m.user_id, i.cyphr_id, i.display_name, m.role, m.joined_at, m.joined_seq
    FROM chat_members m JOIN identities i ON i.id = m.user_id
    WHERE m.chat_id = ${chatId} AND m.left_seq IS NULL AND i.cyphr_id COLLATE "C" > ${afterCyphrId}
    ORDER BY i.cyphr_id COLLATE "C"
    LIMIT ${limit}`);
}

export async function findMember(db: Db, chatId: string, userId: string): Promise<MemberRow | null> {
  return db.maybeOne(sql.type(memberRow)`
    /* findMember */
    SELECT m.user_id, i.cyphr_id, i.display_name, m.role, m.joined_at, m.joined_seq
    FROM chat_members m JOIN identities i ON i.id = m.user_id
    WHERE m.chat_id = ${chatId} AND m.user_id = ${userId}`);
}

/** Maps Cyphr IDs to user ids; ids that do not exist are absent from the result. */
export async function userIdsByCyphrId(db: Db, cyphrIds: readonly string[]): Promise<Map<string, string>> {
  const rows = await db.any(sql.type(z.object({ id: uuid, cyphr_id: z.string() }))`
    /* userIdsByCyphrId */
    SELECT id, cyphr_id FROM identities WHERE cyphr_id = ANY(${sql.array(cyphrIds, "text")})`);
  return new Map(rows.map((r) => [r.cyphr_id, r.id]));
}

function optionalBytes(value: Uint8Array | null) {
  return value === null || value.length === 0 ? null : sql.binary(Buffer.from(value));
}
