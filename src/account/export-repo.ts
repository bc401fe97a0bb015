import { type FragmentSqlToken, sql } from "slonik";
import { z } from "zod";
import type { Db } from "../db/types.js";

/**
 * ExportAccountData's queries. Each section is every column of the caller's rows of one
 * table, read from information_schema so a column added later is exported without a code
 * change, named as in the database (the README's storage table), bytea as base64, times
 * as ISO 8601 (PostgreSQL's line breaks in base64 removed); minus the columns listed in HIDDEN: the caller's own id (implied), secrets
 * the server must not hand out (the PIN hash, the sealed TOTP secret), and columns that
 * would tell about other users.
 */
const HIDDEN: Record<string, readonly string[]> = {
  identities: [],
  devices: ["user_id"],
  sessions: ["user_id"],
  account_pins: ["user_id", "pin_hash"],
  account_recovery_keys: ["user_id"],
  account_totp: ["user_id", "secret_sealed"],
  account_attempts: ["user_id"],
  chats: ["direct_user_low", "direct_user_high", "mls_group_info"],
  chat_members: ["user_id"],
  messages: ["sender_id", "system_event"],
  calls: ["caller_id", "caller_session_id", "answered_by", "answered_session_id"],
  call_participants: ["user_id"],
  presence: ["user_id"],
  events: ["user_id", "data"],
  // The privacy domain's lists and the attachments domain's uploads: the caller's own.
  contacts: ["user_id"],
  blocks: ["blocker_id"],
  chat_requests: ["user_id"],
  attachments: ["owner"],
};
export type ExportedTable = keyof typeof HIDDEN;

const columnRow = z.object({ column_name: z.string(), data_type: z.string() });
const columnsCache = new Map<string, readonly { name: string; bytea: boolean }[]>();

async function columnsOf(db: Db, table: ExportedTable) {
  const cached = columnsCache.get(table);
  if (cached) return cached;
  const rows = await db.any(sql.type(columnRow)`
    /* exportColumns */
    SELECT column_name, data_type FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = ${table} ORDER BY ordinal_position`);
  const columns = rows.filter((r) => !HIDDEN[table]!.includes(r.column_name)).map((r) => ({ name: r.column_name, bytea: r.data_type === "bytea" }));
  columnsCache.set(table, columns);
  return columns;
}

/** jsonb_build_object of the exported columns of `table` aliased `alias`. */
async function rowObject(db: Db, table: ExportedTable, alias: string): Promise<FragmentSqlToken> {
  const pairs = (await columnsOf(db, table)).map((c) => {
    const column = sql.identifier([alias, c.name]);
    return sql.fragment`${c.name}::text, ${c.bytea ? sql.fragment`translate(encode(${column}, 'base64'), E'\n', '')` : column}`;
  });
  return sql.fragment`jsonb_build_object(${sql.join(pairs, sql.fragment`, `)})`;
}

const json = z.object({ doc: z.unknown() });

/** One table's rows of the caller as a JSON array. */
async function section(db: Db, table: ExportedTable, where: FragmentSqlToken, order: FragmentSqlToken): Promise<unknown> {
  const object = await rowObject(db, table, "t");
  return db.oneFirst(sql.type(json)`
    /* exportSection */
    SELECT coalesce((SELECT jsonb_agg(${object} ORDER BY ${order}) FROM ${sql.identifier([table])} t WHERE ${where}), '[]'::jsonb) AS doc`);
}

/** The caller's one row of a table keyed by the account (null when there is none). */
async function singleRow(db: Db, table: ExportedTable, where: FragmentSqlToken): Promise<unknown> {
  const object = await rowObject(db, table, "t");
  return db.oneFirst(sql.type(json)`
    /* exportSingleRow */
    SELECT (SELECT ${object} FROM ${sql.identifier([table])} t WHERE ${where}) AS doc`);
}

/** Every section but the messages, keyed by table name; chats carry the caller's chat_members row. */
export async function exportAccountSections(db: Db, userId: string): Promise<Record<string, unknown>> {
  const mine = sql.fragment`t.user_id = ${userId}`;
  return {
    identities: await singleRow(db, "identities", sql.fragment`t.id = ${userId}`),
    devices: await section(db, "devices", mine, sql.fragment`t.device_id`),
    sessions: await section(db, "sessions", mine, sql.fragment`t.created_at, t.id`),
    account_pins: await singleRow(db, "account_pins", mine),
    account_recovery_keys: await singleRow(db, "account_recovery_keys", mine),
    account_totp: await singleRow(db, "account_totp", mine),
    account_attempts: await section(db, "account_attempts", mine, sql.fragment`t.factor`),
    chat_members: await section(db, "chat_members", mine, sql.fragment`t.joined_at, t.chat_id`),
    chats: await section(db, "chats", sql.fragment`t.id IN (SELECT chat_id FROM chat_members WHERE user_id = ${userId})`, sql.fragment`t.created_at, t.id`),
    calls: await section(
      db,
      "calls",
      sql.fragment`t.caller_id = ${userId} OR t.answered_by = ${userId} OR t.id IN (SELECT call_id FROM call_participants WHERE user_id = ${userId})`,
      sql.fragment`t.created_at, t.id`,
    ),
    call_participants: await section(db, "call_participants", mine, sql.fragment`t.call_id`),
    presence: await section(db, "presence", mine, sql.fragment`t.instance_id`),
    events: await section(db, "events", mine, sql.fragment`t.cursor`),
    contacts: await section(db, "contacts", mine, sql.fragment`t.contact_id`),
    blocks: await section(db, "blocks", sql.fragment`t.blocker_id = ${userId}`, sql.fragment`t.blocked_id`),
    chat_requests: await section(db, "chat_requests", mine, sql.fragment`t.chat_id`),
    attachments: await section(db, "attachments", sql.fragment`t.owner = ${userId}`, sql.fragment`t.created_at, t.upload_id`),
  };
}

const messagePage = z.object({ chat_id: z.string(), seq: z.number(), row: z.unknown() });

/** The caller's own messages after (chatId, seq), in that order, at most `limit`, with their ciphertexts. */
export async function exportOwnMessages(
  db: Db,
  userId: string,
  after: { chatId: string; seq: number } | null,
  limit: number,
): Promise<{ chatId: string; seq: number; row: unknown }[]> {
  const object = await rowObject(db, "messages", "t");
  const rows = await db.any(sql.type(messagePage)`
    /* exportOwnMessages */
    SELECT t.chat_id, t.seq, ${object} AS row
    FROM messages t
    WHERE t.chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = ${userId}) AND t.sender_id = ${userId}
      ${after ? sql.fragment`AND (t.chat_id, t.seq) > (${after.chatId}::uuid, ${after.seq})` : sql.fragment``}
    ORDER BY t.chat_id, t.seq
    LIMIT ${limit}`);
  return rows.map((r) => ({ chatId: r.chat_id, seq: r.seq, row: r.row }));
}
