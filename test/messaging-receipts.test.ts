import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { chatEntry, createGroupOf, type Participant, participants, sendInChat, sendTo } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Unread counts in ListChats, delivery and read positions, and what senders see of them. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** The receipts `viewer` sees on the message with `seq`. */
async function receiptsOn(viewer: Participant, chatId: string, seq: bigint) {
  const { messages } = await viewer.messaging.listMessages({ chatId, cursorSeq: seq - 1n, limit: 1, direction: Direction.FORWARD });
  expect(messages[0]?.seq).toBe(seq);
  return messages[0]!.receipts;
}

describe("unread counts", () => {
  it("count others' messages after the read position; the caller's own messages never count", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob); // 1
    await sendInChat(alice, chatId); // 2
    await sendInChat(bob, chatId); // 3
    await sendInChat(alice, chatId); // 4

    expect(await chatEntry(bob, chatId)).toMatchObject({ unreadCount: 3, lastSeq: 4n, readSeq: 0n });
    expect(await chatEntry(alice, chatId)).toMatchObject({ unreadCount: 1 });

    await bob.messaging.markRead({ chatId, upToSeq: 2n });
    expect(await chatEntry(bob, chatId)).toMatchObject({ unreadCount: 1, readSeq: 2n, deliveredSeq: 2n });
    await bob.messaging.markRead({ chatId, upToSeq: 4n });
    expect(await chatEntry(bob, chatId)).toMatchObject({ unreadCount: 0, readSeq: 4n });
  });

  it("MarkDelivered alone does not make messages read", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    await bob.messaging.markDelivered({ chatId, upToSeq: 1n });
    expect(await chatEntry(bob, chatId)).toMatchObject({ unreadCount: 1, deliveredSeq: 1n, readSeq: 0n });
  });

  it("system messages (group creation, member added, timer changes) never count as unread", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob]);
    expect(await chatEntry(bob, chatId)).toMatchObject({ unreadCount: 0, lastSeq: 1n });

    await admin.groups.addMember({ chatId, cyphrId: carol.cyphrId });
    await admin.messaging.setChatTimer({ chatId, timerSeconds: 3600 });
    expect(await chatEntry(bob, chatId)).toMatchObject({ unreadCount: 0, lastSeq: 3n });

    await sendInChat(admin, chatId);
    expect(await chatEntry(bob, chatId)).toMatchObject({ unreadCount: 1, lastSeq: 4n });
    // Carol joined at seq 2: the creation message is not hers to read, the admin's message is.
    expect(await chatEntry(carol, chatId)).toMatchObject({ unreadCount: 1, lastSeq: 4n });

    const { chatId: directId } = await sendTo(admin, bob);
    await bob.messaging.setChatTimer({ chatId: directId, timerSeconds: 60 });
    expect(await chatEntry(admin, directId)).toMatchObject({ unreadCount: 0, lastSeq: 2n });
  });

  it("ListChats orders chats by most recent activity and pages through them", async () => {
    const [me, a, b, c] = await participants(server.baseUrl, 4);
    const withA = (await sendTo(a, me)).chatId;
    const withB = (await sendTo(b, me)).chatId;
    const withC = (await sendTo(c, me)).chatId;
    await sendTo(a, me);

    const first = await me.messaging.listChats({ limit: 2 });
    expect(first.chats.map((chat) => chat.chatId)).toEqual([withA, withC]);
    expect(first.nextPageToken).not.toBe("");
    const second = await me.messaging.listChats({ limit: 2, pageToken: first.nextPageToken });
    expect(second.chats.map((chat) => chat.chatId)).toEqual([withB]);
    expect(second.nextPageToken).toBe("");
  });
});

describe("receipt positions", () => {
  it("are monotonic: MarkRead to 5 then to 3 keeps 5", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    for (let i = 0; i < 5; i++) await sendInChat(alice, chatId);

    expect(await bob.messaging.markRead({ chatId, upToSeq: 5n })).toMatchObject({ readSeq: 5n, deliveredSeq: 5n });
    expect(await bob.messaging.markRead({ chatId, upToSeq: 3n })).toMatchObject({ readSeq: 5n, deliveredSeq: 5n });
    expect(await bob.messaging.markDelivered({ chatId, upToSeq: 2n })).toMatchObject({ deliveredSeq: 5n });
    expect(await chatEntry(bob, chatId)).toMatchObject({ readSeq: 5n, deliveredSeq: 5n, unreadCount: 1 });
  });

  it("MarkRead implies delivered; MarkDelivered moves only the delivery position", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    for (let i = 0; i < 3; i++) await sendInChat(alice, chatId);

    expect(await bob.messaging.markDelivered({ chatId, upToSeq: 1n })).toMatchObject({ deliveredSeq: 1n });
    expect(await bob.messaging.markRead({ chatId, upToSeq: 3n })).toMatchObject({ readSeq: 3n, deliveredSeq: 3n });
    expect(await bob.messaging.markDelivered({ chatId, upToSeq: 4n })).toMatchObject({ deliveredSeq: 4n });
    expect(await chatEntry(bob, chatId)).toMatchObject({ readSeq: 3n, deliveredSeq: 4n });
  });

  it("up_to_seq beyond the last message fails with INVALID_ARGUMENT and moves nothing", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    await sendInChat(alice, chatId);

    await expectRpcError(bob.messaging.markRead({ chatId, upToSeq: 3n }), Code.InvalidArgument, "up_to_seq 3 is beyond the last message you can see (seq 2)");
    await expectRpcError(bob.messaging.markDelivered({ chatId, upToSeq: 99n }), Code.InvalidArgument, "up_to_seq 99 is beyond");
    expect(await chatEntry(bob, chatId)).toMatchObject({ readSeq: 0n, deliveredSeq: 0n });
  });

  it("in a direct chat the sender sees receipts.delivered and receipts.read on their own message", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId, seq } = await sendTo(alice, bob);

    expect(await receiptsOn(alice, chatId, seq)).toMatchObject({ delivered: false, read: false, recipientCount: 1 });
    await bob.messaging.markDelivered({ chatId, upToSeq: seq });
    expect(await receiptsOn(alice, chatId, seq)).toMatchObject({ delivered: true, read: false, deliveredCount: 1, readCount: 0 });
    await bob.messaging.markRead({ chatId, upToSeq: seq });
    expect(await receiptsOn(alice, chatId, seq)).toMatchObject({ delivered: true, read: true, deliveredCount: 1, readCount: 1 });

    // Receipts belong to the sender: the recipient sees none on messages they received.
    expect(await receiptsOn(bob, chatId, seq)).toBeUndefined();
  });

  it("in a group the sender sees delivered_count and read_count over the other current members", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(alice, [bob, carol]);
    const { seq } = await sendInChat(alice, chatId);

    expect(await receiptsOn(alice, chatId, seq)).toMatchObject({ recipientCount: 2, deliveredCount: 0, readCount: 0, delivered: false });
    await bob.messaging.markDelivered({ chatId, upToSeq: seq });
    expect(await receiptsOn(alice, chatId, seq)).toMatchObject({ recipientCount: 2, deliveredCount: 1, readCount: 0, delivered: false });
    await carol.messaging.markRead({ chatId, upToSeq: seq });
    expect(await receiptsOn(alice, chatId, seq)).toMatchObject({
      recipientCount: 2,
      deliveredCount: 2,
      readCount: 1,
      delivered: true,
      read: false,
    });
    await bob.messaging.markRead({ chatId, upToSeq: seq });
    expect(await receiptsOn(alice, chatId, seq)).toMatchObject({ deliveredCount: 2, readCount: 2, read: true });
    expect(await receiptsOn(carol, chatId, seq)).toBeUndefined();
  });
});
