import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Chat } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { type LiveDevice, registerLiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

async function device(name: string): Promise<LiveDevice> {
  const d = await registerLiveDevice(name, { baseUrl: server.baseUrl });
  await d.mls.ensureKeyPackages(3);
  return d;
}

async function chatOf(d: LiveDevice, chatId: string): Promise<Chat | undefined> {
  const res = await d.mls.messaging.listChats({ limit: 200 }, { headers: { authorization: `Bearer ${await d.account.accessToken()}` } });
  return res.chats.find((c) => c.chatId === chatId);
}

describe("ListChats unread counts in MLS chats", () => {
  it("count the application messages from others after the read position, never the MLS commits", async () => {
    const alice = await device("unread_alice");
    const bob = await device("unread_bob");
    const carol = await device("unread_carol");

    // A direct chat: Alice's creating commit (seq 1), Bob's key update (seq 2), then two messages from Alice.
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.mls.acceptWelcome(chatId);
    await bob.mls.updateKeys(chatId);
    await alice.mls.send(chatId, "one");
    const last = await alice.mls.send(chatId, "two");
    expect(await chatOf(bob, chatId)).toMatchObject({ lastSeq: last.seq, unreadCount: 2 });
    expect(await chatOf(alice, chatId)).toMatchObject({ unreadCount: 0 });
    await bob.mls.send(chatId, "three");
    expect(await chatOf(alice, chatId)).toMatchObject({ unreadCount: 1 });

    // A group: the creating commit, an add by commit and a member's update are not counted; one message is.
    const group = await alice.mls.createGroup([bob.account.cyphrId]);
    await bob.mls.acceptWelcome(group.chatId);
    await alice.mls.addMembers(group.chatId, [carol.account.cyphrId]);
    await carol.mls.acceptWelcome(group.chatId);
    await bob.mls.updateKeys(group.chatId);
    expect(await chatOf(carol, group.chatId)).toMatchObject({ unreadCount: 0 });
    await bob.mls.send(group.chatId, "hello group");
    expect(await chatOf(carol, group.chatId)).toMatchObject({ unreadCount: 1 });
    expect(await chatOf(alice, group.chatId)).toMatchObject({ unreadCount: 1 });
  }, 120_000);
});
