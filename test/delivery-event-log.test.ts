import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DurableNotice, EVENTS_CHANNEL, MAX_NOTIFY_BYTES, MAX_RECIPIENTS_PER_NOTICE } from "../src/delivery/notice.js";
import { NoticeDecoder } from "../src/delivery/notice-codec.js";
import { recordEvents } from "../src/events/log.js";
import { DurableKind } from "../src/events/model.js";
import { createGroupOf, participants, sendInChat } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The event log has one writer, cyphr_record_events (migrations/0007_event_log_writer.sql):
 * a send (cyphr_send_batch) and every other change (recordEvents) store their events rows
 * and NOTIFY their notices through it, and delivery's codec reads those notices back. The
 * constants SQL shares with TypeScript are checked here: the channel, the kind of a send's
 * event, the recipients per notice (passed in) and the payload limit.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

interface EventRow {
  user_id: string;
  cursor: number;
  kind: number;
  chat_id: string;
  seq: number | null;
  data: unknown;
  at: number;
}

describe("the event log's one writer", () => {
  it("a send and recordEvents of the same message_new store the same rows and notify the same notices, split at MAX_RECIPIENTS_PER_NOTICE", async () => {
    const group = await participants(server.baseUrl, MAX_RECIPIENTS_PER_NOTICE + 30);
    const [admin, members] = [group[0]!, group.slice(1)];
    const chatId = await createGroupOf(admin, members);
    const everyone = [admin, ...members].map((u) => u.userId);

    const bySend = await listen();
    const sent = await sendInChat(admin, chatId);
    const sendNotices = await bySend.take(2);
    const seq = Number(sent.seq);
    const sendRows = await events(chatId, seq);

    const byRecord = await listen();
    await server.app.pool.transaction((tx) =>
      recordEvents(tx, [{ kind: DurableKind.messageNew, chatId, seq, data: null, recipients: [...everyone].reverse() }]),
    );
    const recordNotices = await byRecord.take(2);
    const recordRows = (await events(chatId, seq)).filter((r) => !sendRows.some((s) => s.user_id === r.user_id && s.cursor === r.cursor));

    // Rows: one per member, each user's next cursor, the same kind, chat, seq and data.
    expect(sendRows.map((r) => r.user_id).sort()).toEqual([...everyone].sort());
    expect(recordRows.map(({ cursor, at, ...rest }) => ({ ...rest, cursor: cursor - 1 }))).toEqual(sendRows.map(({ at, ...rest }) => rest));

    // Notices: split alike (by user id, at most MAX_RECIPIENTS_PER_NOTICE each), naming each row's cursor.
    for (const [notices, rows] of [
      [sendNotices, sendRows],
      [recordNotices, recordRows],
    ] as const) {
      expect(notices.map((n) => n.recipients.length)).toEqual([MAX_RECIPIENTS_PER_NOTICE, 30]);
      const users = notices.flatMap((n) => n.recipients.map(([user]) => user));
      expect(users).toEqual([...users].sort());
      expect(new Map(notices.flatMap((n) => n.recipients))).toEqual(new Map(rows.map((r) => [r.user_id, r.cursor])));
      for (const n of notices) {
        expect({ kind: n.kind, chatId: n.chatId, seq: n.seq, data: n.data }).toEqual({ kind: DurableKind.messageNew, chatId, seq, data: null });
        expect(n.at.getTime()).toBe(rows[0]!.at);
      }
    }
    // Only a send names its message (so the sending instance delivers it from memory).
    expect(sendNotices.map((n) => n.sent)).toEqual([0, 1].map(() => ({ messageId: sent.messageId, expiresAt: null })));
    expect(recordNotices.map((n) => n.sent)).toEqual([undefined, undefined]);
    for (const raw of [...bySend.raw, ...byRecord.raw]) expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(MAX_NOTIFY_BYTES);
  }, 90_000);

  it("an event with data and no seq is stored and notified with them, for each recipient in event order", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendInChat(alice, await createGroupOf(alice, [bob])).then((r) => ({ chatId: r.chatId }));
    const data = { user: alice.userId, cyphrId: alice.cyphrId, delivered: 3, read: 2 };
    const listener = await listen();
    await server.app.pool.transaction((tx) =>
      recordEvents(tx, [
        { kind: DurableKind.receipt, chatId, seq: null, data, recipients: [bob.userId, alice.userId] },
        { kind: DurableKind.chatTimerChanged, chatId, seq: 9, data: { timer: 60, actor: alice.userId }, recipients: [bob.userId] },
      ]),
    );
    const [receipt, timer] = await listener.take(2);
    const rows = await events(chatId, null);
    const bobReceipt = rows.find((r) => r.user_id === bob.userId)!;
    expect(receipt).toMatchObject({ kind: DurableKind.receipt, chatId, seq: null, data, sent: undefined });
    expect(new Map(receipt!.recipients)).toEqual(new Map(rows.map((r) => [r.user_id, r.cursor])));
    expect(bobReceipt).toMatchObject({ kind: DurableKind.receipt, seq: null, data });
    expect(timer).toMatchObject({ kind: DurableKind.chatTimerChanged, seq: 9, data: { timer: 60, actor: alice.userId } });
    expect(timer!.recipients).toEqual([[bob.userId, bobReceipt.cursor + 1]]);
  });
});

/** Durable notices as delivery reads them, and their raw payloads. */
async function listen() {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  // The channel SQL notifies on is the one the bus listens on.
  await client.query(`LISTEN ${EVENTS_CHANNEL}`);
  const decoder = new NoticeDecoder();
  const notices: DurableNotice[] = [];
  const raw: string[] = [];
  client.on("notification", (msg) => {
    raw.push(msg.payload ?? "");
    const notice = decoder.decode(msg.payload ?? "");
    if (notice?.type === "durable") notices.push(notice);
  });
  return {
    raw,
    async take(count: number): Promise<DurableNotice[]> {
      const deadline = Date.now() + 10_000;
      while (notices.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await client.end();
      expect(notices.length).toBe(count);
      return notices.slice(0, count);
    },
  };
}

async function events(chatId: string, seq: number | null): Promise<EventRow[]> {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<EventRow>(
      `SELECT user_id, cursor::int, kind::int, chat_id, seq::int, data, floor(extract(epoch FROM created_at) * 1000)::float8 AS at
       FROM events WHERE chat_id = $1 AND seq IS NOT DISTINCT FROM $2 ORDER BY user_id, cursor`,
      [chatId, seq],
    );
    return rows;
  } finally {
    await client.end();
  }
}
