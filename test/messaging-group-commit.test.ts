import { randomBytes, randomUUID } from "node:crypto";
import { toJson } from "@bufbuild/protobuf";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MAX_RECIPIENTS_PER_NOTICE } from "../src/delivery/notice.js";
import { RecentSends } from "../src/delivery/recent-sends.js";
import { MessageSchema } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { createGroupOf, participants, randomPayload, sendInChat, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Group commit: a batch of sends is committed by one call of cyphr_send_batch
 * (migrations/0007_event_log_writer.sql). Batching depends on timing over RPC, so its contract
 * is checked here by calling the function directly with a batch that mixes every outcome.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterEach(closeAllStreams);
afterAll(() => server.close());

interface BatchRow {
  ord: number;
  outcome: number;
  id: string | null;
  seq: string | null;
}

describe("cyphr_send_batch", () => {
  it("answers each send of a mixed batch on its own: stored, duplicate (earlier or in the batch), no chat, no longer a member", async () => {
    const [admin, alice, bob, carol, stranger] = await participants(server.baseUrl, 5);
    const chatId = await createGroupOf(admin, [alice, bob, carol]);
    const earlier = await sendInChat(alice, chatId);
    const earlierKey = (await query<{ client_message_id: string }>(`SELECT client_message_id FROM messages WHERE id = $1`, [earlier.messageId]))[0]!
      .client_message_id;
    await admin.groups.removeMember({ chatId, cyphrId: carol.cyphrId });
    const [chat] = await query<{ last_seq: string }>(`SELECT last_seq FROM chats WHERE id = $1`, [chatId]);
    const lastSeqBefore = chat!.last_seq;
    const cursorsBefore = await cursors([admin.userId, alice.userId, bob.userId, carol.userId]);

    const aliceKey = randomUUID();
    const sends = [
      { sender: alice.userId, key: aliceKey }, // 1 stored
      { sender: carol.userId, key: randomUUID() }, // 2 removed: not a member
      { sender: stranger.userId, key: randomUUID() }, // 3 no membership: no such chat for them
      { sender: bob.userId, key: randomUUID() }, // 4 stored
      { sender: alice.userId, key: aliceKey }, // 5 same key as 1: duplicate of it
      { sender: alice.userId, key: earlierKey }, // 6 stored before: duplicate of that
    ];
    const listener = await listen();
    const rows = await query<BatchRow>(
      `SELECT ord, outcome, id, seq::text FROM cyphr_send_batch($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int2[],
         $6::bytea[], $7::bytea[], $8::bytea[], $9::bytea[], $10::bytea[], $11::int4[], $12::int4)`,
      [
        sends.map(() => chatId),
        sends.map((s) => s.sender),
        sends.map((s) => s.key),
        sends.map(() => randomUUID()),
        sends.map(() => 1),
        sends.map(() => Buffer.alloc(0)),
        sends.map(() => randomBytes(32)),
        sends.map(() => randomBytes(12)),
        sends.map(() => randomBytes(16)),
        sends.map(() => Buffer.alloc(0)),
        sends.map(() => 0),
        MAX_RECIPIENTS_PER_NOTICE,
      ],
    );
    const last = Number(lastSeqBefore);
    expect(rows.map((r) => [r.ord, r.outcome, r.seq === null ? null : Number(r.seq)])).toEqual([
      [1, 0, last + 1],
      [2, 3, null],
      [3, 2, null],
      [4, 0, last + 2],
      [5, 1, last + 1],
      [6, 1, Number(earlier.seq)],
    ]);
    expect(rows[4]!.id).toBe(rows[0]!.id);
    expect(rows[5]!.id).toBe(earlier.messageId);

    // Two messages, two seqs, nothing else stored.
    expect(await query(`SELECT last_seq::int FROM chats WHERE id = $1`, [chatId])).toEqual([{ last_seq: last + 2 }]);
    expect(await query(`SELECT count(*)::int AS n FROM messages WHERE chat_id = $1 AND seq > $2`, [chatId, last])).toEqual([{ n: 2 }]);

    // Each current member (not carol) got two events, with the next two cursors, in send order.
    const cursorsAfter = await cursors([admin.userId, alice.userId, bob.userId, carol.userId]);
    for (const user of [admin, alice, bob]) expect(cursorsAfter.get(user.userId)).toBe(cursorsBefore.get(user.userId)! + 2);
    expect(cursorsAfter.get(carol.userId)).toBe(cursorsBefore.get(carol.userId));
    const events = await query<{ user_id: string; cursor: number; seq: number }>(
      `SELECT user_id, cursor::int, seq::int FROM events WHERE chat_id = $1 AND seq > $2 ORDER BY user_id, cursor`,
      [chatId, last],
    );
    for (const user of [admin, alice, bob]) {
      const base = cursorsBefore.get(user.userId)!;
      expect(events.filter((e) => e.user_id === user.userId).map((e) => [e.cursor, e.seq])).toEqual([
        [base + 1, last + 1],
        [base + 2, last + 2],
      ]);
    }

    // One NOTIFY per stored message, in send order, naming the message and each recipient's cursor.
    const notices = await listener.take(2);
    expect(notices.map((n) => [n.k, n.c, n.s, n.m])).toEqual([
      [1, chatId, last + 1, rows[0]!.id],
      [1, chatId, last + 2, rows[3]!.id],
    ]);
    for (const [i, notice] of notices.entries()) {
      expect(new Map(notice.u)).toEqual(new Map([admin, alice, bob].map((u) => [u.userId, cursorsBefore.get(u.userId)! + 1 + i])));
    }
  });

  it("splits a message's NOTIFY into pieces of at most 100 recipients, each under PostgreSQL's 8,000-byte limit", async () => {
    const [admin, ...members] = await participants(server.baseUrl, 130);
    const chatId = await createGroupOf(admin, members);
    const listener = await listen();
    const sent = await sendInChat(admin, chatId);
    const notices = (await listener.take(2)).filter((n) => n.m === sent.messageId);
    expect(notices.map((n) => n.u.length)).toEqual([100, 30]);
    expect(new Set(notices.flatMap((n) => n.u.map(([user]) => user)))).toEqual(new Set([admin, ...members].map((u) => u.userId)));
    for (const raw of listener.raw) expect(Buffer.byteLength(raw)).toBeLessThan(8000);
  }, 60_000);
});

describe("delivery of messages this instance committed", () => {
  it("a streamed message_new is exactly the message history shows: payload, sender, times", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const stream = subscribe(server.baseUrl, bob.accessToken);
    await stream.caughtUp();
    const payload = { ...randomPayload(300), header: randomBytes(40) };
    const sent = await bob.messaging
      .sendMessage({ destination: { case: "chatId", value: chatId }, clientMessageId: randomUUID(), payload, messageType: 1 })
      .then(() =>
        alice.messaging.sendMessage({
          destination: { case: "chatId", value: chatId },
          clientMessageId: randomUUID(),
          payload,
          messageType: 2,
          expiresInSeconds: 3600,
        }),
      );
    const { value: streamed } = await stream.take("messageNew", (m) => m.messageId === sent.messageId);
    const { messages } = await bob.messaging.listMessages({ chatId, limit: 10 });
    const listed = messages.find((m) => m.messageId === sent.messageId);
    expect(listed).toBeDefined();
    // Compared as protobuf JSON: the two clients may hand bytes out as different Uint8Array subclasses.
    expect(toJson(MessageSchema, streamed)).toEqual(toJson(MessageSchema, listed!));
    expect(Buffer.from(streamed.payload!.ciphertext)).toEqual(payload.ciphertext);
    expect(streamed.senderCyphrId).toBe(alice.cyphrId);
    expect(streamed.expiresAt).toBeDefined();
  });
});

describe("RecentSends", () => {
  const send = (bytes: number) => ({
    chatId: randomUUID(),
    senderUserId: randomUUID(),
    senderCyphrId: "someone",
    clientMessageId: randomUUID(),
    messageType: 1,
    payload: {
      kemCiphertext: new Uint8Array(0),
      ciphertext: new Uint8Array(bytes),
      nonce: new Uint8Array(0),
      tag: new Uint8Array(0),
      header: new Uint8Array(0),
    },
  });

  it("keeps its own copy of the payload, not a view that would pin the request's whole buffer", () => {
    const recent = new RecentSends();
    const request = Buffer.alloc(64 * 1024, 7);
    const id = randomUUID();
    const sent = send(0);
    recent.remember(id, { ...sent, payload: { ...sent.payload, ciphertext: request.subarray(100, 612) } });
    const kept = recent.message(id, 1, new Date(), null)!.payload!.ciphertext;
    expect(Buffer.from(kept)).toEqual(request.subarray(100, 612));
    expect(kept.buffer).not.toBe(request.buffer);
  });

  it("forgets the oldest messages once it holds more than its byte budget", () => {
    const recent = new RecentSends(3 * (256 + 1000));
    const ids = Array.from({ length: 5 }, () => randomUUID());
    for (const id of ids) recent.remember(id, send(1000));
    expect(recent.size).toBe(3);
    expect(recent.message(ids[0]!, 1, new Date(), null)).toBeUndefined();
    expect(recent.message(ids[1]!, 1, new Date(), null)).toBeUndefined();
    expect(recent.message(ids[4]!, 7, new Date(0), null)).toMatchObject({ id: ids[4], seq: 7, createdAt: new Date(0), senderCyphrId: "someone" });
  });
});

async function query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function cursors(users: string[]): Promise<Map<string, number>> {
  const rows = await query<{ user_id: string; last_cursor: number }>(
    `SELECT u AS user_id, coalesce(c.last_cursor, 0)::int AS last_cursor FROM unnest($1::uuid[]) AS u LEFT JOIN event_counters c ON c.user_id = u`,
    [users],
  );
  return new Map(rows.map((r) => [r.user_id, r.last_cursor]));
}

interface Notice {
  k: number;
  c: string;
  s: number;
  m?: string;
  u: [string, number][];
}

/** LISTENs on the events channel; `take(n)` waits for the next n durable notices. */
async function listen() {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  await client.query("LISTEN cyphr_events");
  const notices: Notice[] = [];
  const raw: string[] = [];
  client.on("notification", (msg) => {
    raw.push(msg.payload ?? "");
    const notice = JSON.parse(msg.payload ?? "{}") as Notice & { t: string };
    if (notice.t === "d") notices.push(notice);
  });
  return {
    raw,
    async take(count: number): Promise<Notice[]> {
      const deadline = Date.now() + 10_000;
      while (notices.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await client.end();
      expect(notices.length).toBeGreaterThanOrEqual(count);
      return notices.slice(0, count);
    },
  };
}
