import { sql } from "slonik";
import { z } from "zod";
import { bytes, type Db, timestamp, uuid } from "../db/types.js";
import { WELCOME_RETENTION_DAYS } from "./limits.js";

const chatRow = z.object({ kind: z.number(), protocol: z.number(), mls_ciphersuite: z.number().nullable(), mls_epoch: z.string().nullable() });

export interface ChatProtocolRow {
  kind: number;
  protocol: number;
  ciphersuite: number | null;
  /** Current epoch (MLS chats); int8, kept exact. */
  epoch: bigint | null;
}

function toProtocolRow(row: z.infer<typeof chatRow>): ChatProtocolRow {
  return { kind: row.kind, protocol: row.protocol, ciphersuite: row.mls_ciphersuite, epoch: row.mls_epoch === null ? null : BigInt(row.mls_epoch) };
}

export async function findChatProtocol(db: Db, chatId: string): Promise<ChatProtocolRow | null> {
  const row = await db.maybeOne(sql.type(chatRow)`
    /* findChatProtocol */
    SELECT kind, protocol, mls_ciphersuite, mls_epoch::text AS mls_epoch FROM chats WHERE id = ${chatId}`);
  return row ? toProtocolRow(row) : null;
}

/** The chat's row locked for a commit: commits of one chat run one at a time. */
export async function lockChatProtocol(db: Db, chatId: string): Promise<ChatProtocolRow | null> {
  const row = await db.maybeOne(sql.type(chatRow)`
    /* lockMlsChat */
    SELECT kind, protocol, mls_ciphersuite, mls_epoch::text AS mls_epoch FROM chats WHERE id = ${chatId} FOR UPDATE`);
  return row ? toProtocolRow(row) : null;
}

export async function insertMlsGroupChat(
  db: Db,
  group: { id: string; encryptedName: Uint8Array | null; encryptedSettings: Uint8Array | null; ciphersuite: number },
): Promise<void> {
  const name = group.encryptedName ? sql.binary(Buffer.from(group.encryptedName)) : null;
  const settings = group.encryptedSettings ? sql.binary(Buffer.from(group.encryptedSettings)) : null;
  await db.query(sql.unsafe`
    /* insertMlsGroupChat */
    INSERT INTO chats (id, kind, encrypted_name, encrypted_settings, protocol, mls_ciphersuite, mls_epoch)
    VALUES (${group.id}, 2, ${name}, ${settings}, 2, ${group.ciphersuite}, 0)`);
}

/** Stores a commit as the chat's message at `seq` (it never expires: later epochs depend on it). */
export async function insertCommitMessage(
  db: Db,
  commit: { chatId: string; seq: number; id: string; senderId: string; clientMessageId: string; bytes: Uint8Array; messageType: number },
): Promise<void> {
  await db.query(sql.unsafe`
    /* insertMlsCommitMessage */
    INSERT INTO messages (chat_id, seq, id, sender_id, client_message_id, message_type, ciphertext)
    VALUES (${commit.chatId}, ${commit.seq}, ${commit.id}, ${commit.senderId}, ${commit.clientMessageId}, ${commit.messageType},
      ${sql.binary(Buffer.from(commit.bytes))})`);
}

const storedCommit = z.object({ id: uuid, seq: z.number(), message_type: z.number(), ciphertext: bytes.nullable() });

/** The caller's earlier message with this client_message_id in the chat, if any (a retried commit). */
export async function findByClientMessageId(db: Db, chatId: string, senderId: string, clientMessageId: string): Promise<z.infer<typeof storedCommit> | null> {
  return db.maybeOne(sql.type(storedCommit)`
    /* findMlsCommitByClientMessageId */
    SELECT id, seq, message_type, ciphertext FROM messages
    WHERE chat_id = ${chatId} AND sender_id = ${senderId} AND client_message_id = ${clientMessageId}`);
}

/** Moves the chat to its next epoch and keeps that epoch's GroupInfo. */
export async function advanceEpoch(db: Db, chatId: string, groupInfo: Uint8Array): Promise<bigint> {
  const epoch = await db.oneFirst(sql.type(z.object({ mls_epoch: z.string() }))`
    /* advanceMlsEpoch */
    UPDATE chats SET mls_epoch = mls_epoch + 1, mls_group_info = ${sql.binary(Buffer.from(groupInfo))}
    WHERE id = ${chatId} RETURNING mls_epoch::text AS mls_epoch`);
  return BigInt(epoch);
}

const groupInfoRow = z.object({ mls_group_info: bytes.nullable(), mls_epoch: z.string(), mls_ciphersuite: z.number() });

export async function findGroupInfo(db: Db, chatId: string): Promise<{ groupInfo: Buffer | null; epoch: bigint; ciphersuite: number } | null> {
  const row = await db.maybeOne(sql.type(groupInfoRow)`
    /* findMlsGroupInfo */
    SELECT mls_group_info, mls_epoch::text AS mls_epoch, mls_ciphersuite FROM chats WHERE id = ${chatId} AND protocol = 2`);
  return row ? { groupInfo: row.mls_group_info, epoch: BigInt(row.mls_epoch), ciphersuite: row.mls_ciphersuite } : null;
}

/** Stores a Welcome and the devices it goes to; returns its id. */
export async function insertWelcome(
  db: Db,
  chatId: string,
  commitSeq: number,
  welcome: Uint8Array,
  devices: readonly { userId: string; deviceId: number }[],
): Promise<number> {
  const id = await db.oneFirst(sql.type(z.object({ id: z.number() }))`
    /* insertMlsWelcome */
    INSERT INTO mls_welcomes (chat_id, commit_seq, welcome) VALUES (${chatId}, ${commitSeq}, ${sql.binary(Buffer.from(welcome))})
    RETURNING id`);
  await db.query(sql.unsafe`
    /* insertMlsWelcomeDevices */
    INSERT INTO mls_welcome_devices (welcome_id, user_id, device_id)
    SELECT ${id}, u, d FROM unnest(${sql.array(
      devices.map((x) => x.userId),
      "uuid",
    )}::uuid[], ${sql.array(
      devices.map((x) => x.deviceId),
      "int4",
    )}::int4[]) AS t (u, d)`);
  return id;
}

const welcomedRow = z.object({ user_id: uuid, cyphr_id: z.string(), device_id: z.number() });

/** The devices the Welcome of the commit at `commitSeq` went to. */
export async function welcomedDevices(db: Db, chatId: string, commitSeq: number): Promise<readonly z.infer<typeof welcomedRow>[]> {
  return db.any(sql.type(welcomedRow)`
    /* mlsWelcomedDevices */
    SELECT d.user_id, i.cyphr_id, d.device_id
    FROM mls_welcomes w JOIN mls_welcome_devices d ON d.welcome_id = w.id JOIN identities i ON i.id = d.user_id
    WHERE w.chat_id = ${chatId} AND w.commit_seq = ${commitSeq}
    ORDER BY i.cyphr_id, d.device_id`);
}

const welcomeRow = z.object({ chat_id: uuid, welcome: bytes, commit_seq: z.number(), created_at: timestamp, request: z.boolean() });
export type WelcomeRow = z.infer<typeof welcomeRow>;

/**
 * The Welcomes kept for a device, oldest first, each with whether its chat is an open request
 * for the device's user; of all chats (no `chatId`), not those the user declined.
 */
export async function listDeviceWelcomes(
  db: Db,
  userId: string,
  deviceId: number,
  chatId: string | null,
  limit: number,
  maxBytes: number,
): Promise<{ welcomes: WelcomeRow[]; truncated: boolean }> {
  // Sizes and the running total come from the TOAST headers: only the Welcomes that fit are read.
  const rows = await db.any(sql.type(welcomeRow.extend({ listed: z.number() }))`
    /* listMlsWelcomes */
    WITH listed AS (
      SELECT w.id, row_number() OVER (ORDER BY w.id) AS rn, sum(octet_length(w.welcome)) OVER (ORDER BY w.id) AS total
      FROM mls_welcome_devices d JOIN mls_welcomes w ON w.id = d.welcome_id
      WHERE d.user_id = ${userId} AND d.device_id = ${deviceId}
        ${chatId ? sql.fragment`AND w.chat_id = ${chatId}` : sql.fragment`AND NOT EXISTS (SELECT 1 FROM chat_requests q WHERE q.chat_id = w.chat_id AND q.user_id = ${userId} AND q.declined_at IS NOT NULL)`}
    )
    SELECT w.chat_id, w.welcome, w.commit_seq, w.created_at, (SELECT count(*) FROM listed)::int AS listed,
      EXISTS (SELECT 1 FROM chat_requests q WHERE q.chat_id = w.chat_id AND q.user_id = ${userId} AND q.declined_at IS NULL) AS request
    FROM listed l JOIN mls_welcomes w ON w.id = l.id
    WHERE l.rn <= ${limit} AND (l.rn = 1 OR l.total <= ${maxBytes})
    ORDER BY l.id`);
  return { welcomes: rows.map(({ listed: _l, ...w }) => w), truncated: rows.length < (rows[0]?.listed ?? 0) };
}

/** Deletes up to `batch` Welcomes older than the retention window. */
export async function purgeWelcomes(db: Db, now: Date, batch: number): Promise<number> {
  const result = await db.query(sql.unsafe`
    /* purgeMlsWelcomes */
    DELETE FROM mls_welcomes WHERE id IN (
      SELECT id FROM mls_welcomes WHERE created_at < ${sql.timestamp(now)} - make_interval(days => ${WELCOME_RETENTION_DAYS}) LIMIT ${batch})`);
  return result.rowCount;
}
