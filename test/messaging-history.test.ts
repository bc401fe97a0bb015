import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, MessageType, SystemEventKind } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { queryDatabase } from "./helpers/database.js";
import { createGroupOf, fullHistory, type Participant, participants, randomPayload, sendInChat, sendTo, seqsOf } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Ordering of a chat's messages (seq) and paging through its history. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("seq ordering", () => {
  it("20 concurrent senders in one group get seqs 2..N+1, contiguous after the creation message, without duplicates", async () => {
    const [admin, ...senders] = await participants(server.baseUrl, 21);
    const chatId = await createGroupOf(admin, senders);
    const perSender = 3;

    const sent = await Promise.all(senders.flatMap((sender) => Array.from({ length: perSender }, () => sendInChat(sender, chatId))));
    const total = senders.length * perSender;
    expect(seqsOf(sent).sort((a, b) => a - b)).toEqual(range(2, total + 1));

    const history = await fullHistory(admin, chatId, 25);
    expect(seqsOf(history)).toEqual(range(1, total + 1));
    expect(history[0]!.systemEvent?.kind).toBe(SystemEventKind.GROUP_CREATED);
    // What each sender was told is what everybody reads.
    const bySeq = new Map(history.map((m) => [m.seq, m.messageId]));
    for (const s of sent) expect(bySeq.get(s.seq)).toBe(s.messageId);

    const rows = await queryDatabase<{ seqs: string[]; last_seq: string }>(
      server.databaseUrl,
      `SELECT array_agg(m.seq ORDER BY m.seq)::text[] AS seqs, c.last_seq::text
       FROM messages m JOIN chats c ON c.id = m.chat_id WHERE m.chat_id = $1 GROUP BY c.last_seq`,
      [chatId],
    );
    expect(rows).toEqual([{ seqs: range(1, total + 1).map(String), last_seq: String(total + 1) }]);
  });
});

describe("ListMessages paging", () => {
  let chatId: string;
  let reader: Participant;
  const COUNT = 25;

  beforeAll(async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    reader = bob;
    chatId = (await sendTo(alice, bob)).chatId;
    for (let i = 2; i <= COUNT; i++) await sendInChat(i % 3 === 0 ? bob : alice, chatId);
  });

  it("BACKWARD from cursor 0 returns the newest messages first", async () => {
    const page = await reader.messaging.listMessages({ chatId, limit: 10, direction: Direction.BACKWARD });
    expect(seqsOf(page.messages)).toEqual(range(16, 25).reverse());
    expect(page.nextCursorSeq).toBe(16n);
  });

  it("DIRECTION_UNSPECIFIED pages BACKWARD", async () => {
    const page = await reader.messaging.listMessages({ chatId, limit: 3 });
    expect(seqsOf(page.messages)).toEqual([25, 24, 23]);
  });

  it("FORWARD from cursor 0 returns the oldest messages first", async () => {
    const page = await reader.messaging.listMessages({ chatId, limit: 10, direction: Direction.FORWARD });
    expect(seqsOf(page.messages)).toEqual(range(1, 10));
    expect(page.nextCursorSeq).toBe(10n);
  });

  it("the cursor is exclusive in both directions", async () => {
    const older = await reader.messaging.listMessages({ chatId, cursorSeq: 12n, limit: 3, direction: Direction.BACKWARD });
    const newer = await reader.messaging.listMessages({ chatId, cursorSeq: 12n, limit: 3, direction: Direction.FORWARD });
    expect(seqsOf(older.messages)).toEqual([11, 10, 9]);
    expect(seqsOf(newer.messages)).toEqual([13, 14, 15]);
  });

  for (const [name, direction, expected] of [
    ["BACKWARD", Direction.BACKWARD, range(1, COUNT).reverse()],
    ["FORWARD", Direction.FORWARD, range(1, COUNT)],
  ] as const) {
    it(`next_cursor_seq walks the whole history ${name} exactly once and ends with 0`, async () => {
      const seen: number[] = [];
      const cursors: bigint[] = [];
      let cursorSeq = 0n;
      do {
        const page = await reader.messaging.listMessages({ chatId, cursorSeq, limit: 7, direction });
        seen.push(...seqsOf(page.messages));
        cursorSeq = page.nextCursorSeq;
        cursors.push(cursorSeq);
      } while (cursorSeq !== 0n && cursors.length < 10);
      expect(seen).toEqual(expected);
      expect(cursors).toHaveLength(Math.ceil(COUNT / 7));
    });
  }

  it("a page that exactly reaches the end returns next_cursor_seq 0", async () => {
    const page = await reader.messaging.listMessages({ chatId, cursorSeq: 20n, limit: 5, direction: Direction.FORWARD });
    expect(seqsOf(page.messages)).toEqual(range(21, 25));
    expect(page.nextCursorSeq).toBe(0n);
  });

  it("limit 0 means 50 and limit 200 is allowed", async () => {
    expect((await reader.messaging.listMessages({ chatId, limit: 0 })).messages).toHaveLength(COUNT);
    expect((await reader.messaging.listMessages({ chatId, limit: 200 })).messages).toHaveLength(COUNT);
  });

  it("limit above 200 fails with INVALID_ARGUMENT naming the maximum", async () => {
    await expectRpcError(reader.messaging.listMessages({ chatId, limit: 201 }), Code.InvalidArgument, "limit must be at most 200, got 201");
  });

  it("a malformed chat_id fails with INVALID_ARGUMENT", async () => {
    await expectRpcError(reader.messaging.listMessages({ chatId: "not-a-chat" }), Code.InvalidArgument, "chat_id must be a UUID");
  });

  it("messages carry sender, client_message_id, type, payload and created_at as sent", async () => {
    const [carol, dave] = await participants(server.baseUrl, 2);
    const clientMessageId = randomUUID();
    const payload = { ...randomPayload(), header: new Uint8Array([1, 2, 3]) };
    const sent = await carol.messaging.sendMessage({
      destination: { case: "recipientCyphrId", value: dave.cyphrId },
      clientMessageId,
      payload,
      messageType: MessageType.REACTION,
    });
    const [message] = (await dave.messaging.listMessages({ chatId: sent.chatId })).messages;
    expect(message).toMatchObject({
      messageId: sent.messageId,
      chatId: sent.chatId,
      seq: 1n,
      senderUserId: carol.userId,
      senderCyphrId: carol.cyphrId,
      clientMessageId,
      messageType: MessageType.REACTION,
      deleted: false,
      createdAt: sent.serverTime,
    });
    expect(message!.payload).toMatchObject({
      ciphertext: new Uint8Array(payload.ciphertext),
      nonce: new Uint8Array(payload.nonce),
      tag: new Uint8Array(payload.tag),
      header: payload.header,
      kemCiphertext: new Uint8Array(0),
    });
    expect(message!.editedAt).toBeUndefined();
    expect(message!.expiresAt).toBeUndefined();
  });
});
