import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatKind, ChatRole, Direction, MembershipState, MessageType } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { queryDatabase } from "./helpers/database.js";
import { chatEntry, type Participant, participant, participants, randomPayload, sendInChat, sendTo, seqsOf } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Direct chats: one per pair, created by the first message; SendMessage idempotency. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const db = <R extends Record<string, unknown>>(text: string, values: unknown[] = []) => queryDatabase<R>(server.databaseUrl, text, values);

function sendRequest(to: Participant, clientMessageId: string, payload = randomPayload()) {
  return {
    destination: { case: "recipientCyphrId" as const, value: to.cyphrId },
    clientMessageId,
    payload,
    messageType: MessageType.TEXT,
  };
}

describe("direct chats", () => {
  it("the first message creates the chat; both sides then see it in ListChats with the peer and seq 1", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    expect(sent.seq).toBe(1n);
    expect(sent.duplicate).toBe(false);
    expect(sent.chatId).toMatch(/^[0-9a-f-]{36}$/);

    expect(await chatEntry(alice, sent.chatId)).toMatchObject({
      kind: ChatKind.DIRECT,
      peerUserId: bob.userId,
      peerCyphrId: bob.cyphrId,
      lastSeq: 1n,
      memberCount: 2,
      role: ChatRole.MEMBER,
      membership: MembershipState.ACTIVE,
      unreadCount: 0,
    });
    expect(await chatEntry(bob, sent.chatId)).toMatchObject({ peerCyphrId: alice.cyphrId, lastSeq: 1n, unreadCount: 1 });
  });

  it("replies by Cyphr ID or by chat id, in either direction, land in the same chat with the next seq", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const first = await sendTo(alice, bob);
    const reply = await sendTo(bob, alice);
    const byChatId = await sendInChat(alice, first.chatId);
    expect([reply.chatId, byChatId.chatId]).toEqual([first.chatId, first.chatId]);
    expect([reply.seq, byChatId.seq]).toEqual([2n, 3n]);
  });

  it("N concurrent first sends between the same pair, in both directions, create exactly one chat", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? sendTo(alice, bob) : sendTo(bob, alice))));

    const chatIds = new Set(results.map((r) => r.chatId));
    expect(chatIds.size).toBe(1);
    const [chatId] = chatIds;
    expect(seqsOf(results).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));

    const chats = await db<{ id: string }>(
      `SELECT id FROM chats WHERE kind = 1 AND direct_user_low = least($1::uuid, $2::uuid) AND direct_user_high = greatest($1::uuid, $2::uuid)`,
      [alice.userId, bob.userId],
    );
    expect(chats).toEqual([{ id: chatId }]);
    const memberships = await db<{ chat_id: string; user_id: string }>(`SELECT chat_id, user_id FROM chat_members WHERE user_id IN ($1, $2) ORDER BY user_id`, [
      alice.userId,
      bob.userId,
    ]);
    expect(memberships).toEqual([alice.userId, bob.userId].sort().map((userId) => ({ chat_id: chatId, user_id: userId })));
    expect(await db(`SELECT seq FROM messages WHERE chat_id = $1`, [chatId])).toHaveLength(12);
  });

  it("SendMessage to an unknown Cyphr ID fails with NOT_FOUND naming it", async () => {
    const alice = await participant(server.baseUrl);
    const ghost = `ghost_${randomUUID().slice(0, 8)}`;
    await expectRpcError(
      alice.messaging.sendMessage({ ...sendRequest(alice, randomUUID()), destination: { case: "recipientCyphrId", value: ghost } }),
      Code.NotFound,
      `no user with cyphr_id "${ghost}"`,
    );
  });

  it("SendMessage to yourself fails with INVALID_ARGUMENT and creates no chat", async () => {
    const alice = await participant(server.baseUrl);
    await expectRpcError(alice.messaging.sendMessage(sendRequest(alice, randomUUID())), Code.InvalidArgument, "recipient_cyphr_id is your own");
    expect((await alice.messaging.listChats({})).chats).toEqual([]);
    expect(await db(`SELECT 1 FROM chat_members WHERE user_id = $1`, [alice.userId])).toEqual([]);
  });
});

describe("idempotent SendMessage", () => {
  it("a retry with the same client_message_id returns the same message, marked duplicate, and stores one row", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const clientMessageId = randomUUID();
    const payload = randomPayload();
    const first = await alice.messaging.sendMessage(sendRequest(bob, clientMessageId, payload));
    const retry = await alice.messaging.sendMessage(sendRequest(bob, clientMessageId, payload));

    expect(first.duplicate).toBe(false);
    expect(retry).toMatchObject({ messageId: first.messageId, chatId: first.chatId, seq: first.seq, duplicate: true });
    expect(retry.serverTime).toEqual(first.serverTime);
    const rows = await db(`SELECT id FROM messages WHERE chat_id = $1 AND client_message_id = $2`, [first.chatId, clientMessageId]);
    expect(rows).toEqual([{ id: first.messageId }]);

    // The retry consumed no seq: the next message follows directly.
    expect((await sendTo(alice, bob)).seq).toBe(first.seq + 1n);
  });

  it("a retry addressed by chat id instead of Cyphr ID is still the same message", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const clientMessageId = randomUUID();
    const first = await alice.messaging.sendMessage(sendRequest(bob, clientMessageId));
    const retry = await alice.messaging.sendMessage({
      ...sendRequest(bob, clientMessageId),
      destination: { case: "chatId", value: first.chatId },
    });
    expect(retry).toMatchObject({ messageId: first.messageId, seq: first.seq, duplicate: true });
  });

  it("concurrent retries of one message store it once: one original, every other answer a duplicate of it", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    for (let round = 0; round < 3; round++) {
      const clientMessageId = randomUUID();
      const payload = randomPayload();
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          alice.messaging.sendMessage({ ...sendRequest(bob, clientMessageId, payload), destination: { case: "chatId", value: chatId } }),
        ),
      );
      expect(new Set(results.map((r) => r.messageId)).size).toBe(1);
      expect(new Set(results.map((r) => r.seq))).toEqual(new Set([BigInt(round + 2)]));
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(await db(`SELECT 1 FROM messages WHERE chat_id = $1 AND client_message_id = $2`, [chatId, clientMessageId])).toHaveLength(1);
    }
    const history = await bob.messaging.listMessages({ chatId, direction: Direction.FORWARD });
    expect(seqsOf(history.messages)).toEqual([1, 2, 3, 4]);
  });

  it("the same client_message_id from two different senders is two different messages", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const clientMessageId = randomUUID();
    const fromAlice = await alice.messaging.sendMessage(sendRequest(bob, clientMessageId));
    const fromBob = await bob.messaging.sendMessage(sendRequest(alice, clientMessageId));
    expect(fromBob.duplicate).toBe(false);
    expect(fromBob.messageId).not.toBe(fromAlice.messageId);
    expect(fromBob.seq).toBe(2n);
  });
});
