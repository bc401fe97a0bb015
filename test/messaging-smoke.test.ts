import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { participant, sendInChat, sendTo } from "./helpers/messaging.js";
import { Direction } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

it("direct chat and group basics", async () => {
  const alice = await participant(server.baseUrl);
  const bob = await participant(server.baseUrl);
  const first = await sendTo(alice, bob);
  expect(first.seq).toBe(1n);
  const second = await sendInChat(bob, first.chatId);
  expect(second.seq).toBe(2n);
  const page = await bob.messaging.listMessages({ chatId: first.chatId, direction: Direction.FORWARD });
  expect(page.messages.map((m) => m.seq)).toEqual([1n, 2n]);
  await bob.messaging.markRead({ chatId: first.chatId, upToSeq: 1n });
  const chats = await alice.messaging.listChats({});
  expect(chats.chats[0]?.unreadCount).toBe(1);
  const own = await alice.messaging.listMessages({ chatId: first.chatId });
  expect(own.messages.find((m) => m.seq === 1n)?.receipts?.read).toBe(true);

  const { group } = await alice.groups.createGroup({ encryptedName: new Uint8Array([1, 2]), memberCyphrIds: [bob.cyphrId] });
  const g1 = await sendInChat(bob, group!.chatId);
  expect(g1.seq).toBe(2n);
  const members = await bob.groups.listMembers({ chatId: group!.chatId });
  expect(members.members).toHaveLength(2);
  await alice.groups.removeMember({ chatId: group!.chatId, cyphrId: bob.cyphrId });
  await expect(sendInChat(bob, group!.chatId)).rejects.toThrow(/no longer a member/);
  const timer = await alice.messaging.setChatTimer({ chatId: first.chatId, timerSeconds: 60 });
  expect(timer.seq).toBe(3n);
  const del = await alice.messaging.deleteMessage({ messageId: first.messageId });
  expect(del.message?.deleted).toBe(true);
});
