import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GroupsService } from "../src/gen/cyphr/groups/v1/groups_pb.js";
import { ChatListFilter, MessageType } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { GroupAddPolicy } from "../src/gen/cyphr/privacy/v1/privacy_pb.js";
import type { LiveEvent } from "../src/sdk/index.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { MlsDevice } from "./helpers/mls-client.js";
import { privacyOf } from "./helpers/privacy.js";
import { closeAllStreams, grpcJsConnect, type RealtimeStream } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { type LiveDevice, registerLiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

/**
 * MLS chats follow consent exactly as MessagingService and GroupsService do: starting an MLS
 * direct chat is writing first (a request for a peer who has not accepted the creator, with
 * nothing of the peer flowing back until they accept or reply), and every add by commit is
 * decided by the one group-add rule (group_adds, blocks), refused adds leaving nothing behind.
 */

/** How long a stream is watched for a frame that must not come. */
const QUIET_MS = 400;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterEach(closeAllStreams);
const lives: LiveDevice[] = [];
afterAll(async () => {
  for (const d of lives) await d.live.close();
  await server?.close();
});

const privacy = (d: MlsDevice) => privacyOf(server.baseUrl, d.user);
const groups = (d: MlsDevice) => clientFor(GroupsService, "connect", server.baseUrl, { token: d.user.accessToken });

/** New users, each with one device that has key packages uploaded. */
async function users(count: 2): Promise<[MlsDevice, MlsDevice]>;
async function users(count: 3): Promise<[MlsDevice, MlsDevice, MlsDevice]>;
async function users(count: number): Promise<MlsDevice[]> {
  const devices: MlsDevice[] = [];
  for (let i = 0; i < count; i++) {
    const user: RegisteredUser = await registerUser(identityClient("connect", server.baseUrl));
    const d = new MlsDevice(user, server.baseUrl);
    await d.uploadKeyPackages(3);
    devices.push(d);
  }
  return devices;
}

async function online(d: MlsDevice): Promise<RealtimeStream> {
  const stream = grpcJsConnect(server.baseUrl, d.user.accessToken);
  await stream.caughtUp();
  return stream;
}

async function chatIds(d: MlsDevice, filter: ChatListFilter): Promise<string[]> {
  return (await d.messaging.listChats({ filter })).chats.map((c) => c.chatId);
}

async function epochOf(d: MlsDevice, chatId: string): Promise<bigint | undefined> {
  return (await d.messaging.listChats({})).chats.find((c) => c.chatId === chatId)?.mlsEpoch;
}

async function setGroupAdds(d: MlsDevice, groupAdds: GroupAddPolicy): Promise<void> {
  await privacy(d).updatePrivacySettings({ updatePaths: ["group_adds"], settings: { groupAdds } });
}

describe("an MLS direct chat from someone not accepted", () => {
  it("is a request for the peer from its creation (listed apart, said by the Welcome), not for its creator", async () => {
    const [alice, bob] = await users(2);
    const bobStream = await online(bob);
    const { chatId } = await alice.sdk.startDirectChat(bob.user.cyphrId);
    expect(await chatIds(bob, ChatListFilter.REQUESTS)).toEqual([chatId]);
    expect(await chatIds(bob, ChatListFilter.ACCEPTED)).toEqual([]);
    expect(await chatIds(alice, ChatListFilter.REQUESTS)).toEqual([]);
    expect(await chatIds(alice, ChatListFilter.ACCEPTED)).toEqual([chatId]);
    expect((await bobStream.take("mlsWelcome")).value).toMatchObject({ chatId, request: true });
    expect((await bob.chats.listWelcomes({ chatId })).welcomes.map((w) => w.request)).toEqual([true]);
  });

  it("gets the creator's typing at once; the peer's typing and receipts reach the creator only after AcceptChat", async () => {
    const [alice, bob] = await users(2);
    const { chatId } = await alice.sdk.startDirectChat(bob.user.cyphrId);
    await bob.acceptWelcome(chatId);
    const aliceStream = await online(alice);
    const bobStream = await online(bob);
    aliceStream.typing(chatId, true); // creating the chat accepted Bob
    expect((await bobStream.take("typing")).value).toMatchObject({ chatId, userId: alice.user.userId, typing: true });

    const first = await alice.send(chatId, "first, while a request");
    await bob.messaging.markRead({ chatId, upToSeq: first.seq });
    bobStream.typing(chatId, true);
    expect(await aliceStream.quiet("receipt", QUIET_MS)).toEqual([]);
    expect(await aliceStream.quiet("typing", 0)).toEqual([]);

    await privacy(bob).acceptChat({ chatId });
    expect(await chatIds(bob, ChatListFilter.REQUESTS)).toEqual([]);
    expect((await bob.chats.listWelcomes({ chatId })).welcomes.map((w) => w.request)).toEqual([false]);
    const second = await alice.send(chatId, "second, accepted");
    await bob.messaging.markRead({ chatId, upToSeq: second.seq });
    expect((await aliceStream.take("receipt")).value).toMatchObject({ chatId, userId: bob.user.userId, readSeq: second.seq });
    bobStream.typing(chatId, true);
    expect((await aliceStream.take("typing")).value).toMatchObject({ chatId, userId: bob.user.userId, typing: true });
  });

  it("is accepted by an MLS reply", async () => {
    const [alice, bob] = await users(2);
    const { chatId } = await alice.sdk.startDirectChat(bob.user.cyphrId);
    await bob.acceptWelcome(chatId);
    const aliceStream = await online(alice);
    await bob.send(chatId, "hi alice");
    expect(await chatIds(bob, ChatListFilter.REQUESTS)).toEqual([]);
    expect(await chatIds(bob, ChatListFilter.ACCEPTED)).toEqual([chatId]);
    const sent = await alice.send(chatId, "you replied");
    await bob.messaging.markRead({ chatId, upToSeq: sent.seq });
    expect((await aliceStream.take("receipt")).value).toMatchObject({ userId: bob.user.userId, readSeq: sent.seq });
  });

  it("is removed by DeclineChat: gone from ListChats and ListWelcomes, the creator's later messages and commits never reach the decliner", async () => {
    const [alice, bob] = await users(2);
    const { chatId } = await alice.sdk.startDirectChat(bob.user.cyphrId);
    await bob.acceptWelcome(chatId);
    await privacy(bob).declineChat({ chatId });
    expect(await chatIds(bob, ChatListFilter.UNSPECIFIED)).not.toContain(chatId);
    expect((await bob.chats.listWelcomes({})).welcomes).toEqual([]);
    const bobStream = await online(bob);
    const sent = await alice.send(chatId, "after the decline");
    const commit = await alice.sdk.updateKeys(chatId);
    expect(commit.epoch).toBe(2n);
    expect(await bobStream.quiet("messageNew", QUIET_MS, (m) => m.seq === sent.seq || m.seq === commit.seq)).toEqual([]);
  });
});

describe("an MLS direct chat started by someone the peer blocked", () => {
  it("never shows for the blocker (no chat, no Welcome event, no message), and the creator is answered as for any peer", async () => {
    const [alice, bob] = await users(2);
    await privacy(bob).blockUser({ cyphrId: alice.user.cyphrId });
    const bobStream = await online(bob);
    const started = await alice.sdk.startDirectChat(bob.user.cyphrId);
    expect(started.welcomed).toEqual([{ cyphrId: bob.user.cyphrId, deviceId: 1 }]);
    const sent = await alice.send(started.chatId, "from someone blocked");
    expect(sent.seq).toBe(2n);
    expect(await chatIds(bob, ChatListFilter.UNSPECIFIED)).toEqual([]);
    expect((await bob.chats.listWelcomes({})).welcomes).toEqual([]);
    expect(await bobStream.quiet("mlsWelcome", QUIET_MS)).toEqual([]);
    expect(bobStream.all("messageNew")).toEqual([]);
  });
});

describe("blocking the creator of an MLS direct chat", () => {
  it("declines its request: the chat is gone for the blocker and the creator's later messages and commits never reach them", async () => {
    const [alice, bob] = await users(2);
    const { chatId } = await alice.sdk.startDirectChat(bob.user.cyphrId);
    await bob.acceptWelcome(chatId);
    await privacy(bob).blockUser({ cyphrId: alice.user.cyphrId });
    expect(await chatIds(bob, ChatListFilter.UNSPECIFIED)).toEqual([]);
    const bobStream = await online(bob);
    const sent = await alice.send(chatId, "after the block");
    const commit = await alice.sdk.updateKeys(chatId);
    expect(await bobStream.quiet("messageNew", QUIET_MS, (m) => m.seq === sent.seq || m.seq === commit.seq)).toEqual([]);
  });
});

describe("adding users to an MLS group by commit", () => {
  it("is refused for a user whose group_adds is NOBODY, as GroupsService refuses it, and leaves nothing: no member, no Welcome, the epoch unchanged", async () => {
    const [alice, bob, carol] = await users(3);
    await setGroupAdds(bob, GroupAddPolicy.NOBODY);
    await setGroupAdds(carol, GroupAddPolicy.EVERYONE);
    const bobStream = await online(bob);
    const refusal = `"${bob.user.cyphrId}" does not accept group adds from you`;
    await expect(alice.sdk.createGroup([bob.user.cyphrId])).rejects.toMatchObject({ code: "permission_denied", message: refusal });
    await expectRpcError(groups(alice).createGroup({ encryptedName: new Uint8Array([1]), memberCyphrIds: [bob.user.cyphrId] }), Code.PermissionDenied, refusal);

    const [chatId] = await chatIds(alice, ChatListFilter.UNSPECIFIED);
    expect(await epochOf(alice, chatId!)).toBe(0n);
    expect((await groups(alice).listMembers({ chatId: chatId! })).members.map((m) => m.cyphrId)).toEqual([alice.user.cyphrId]);
    expect((await bob.chats.listWelcomes({})).welcomes).toEqual([]);
    expect(await chatIds(bob, ChatListFilter.UNSPECIFIED)).toEqual([]);
    expect(await bobStream.quiet("mlsWelcome", QUIET_MS)).toEqual([]);
    // The creator's group stayed at epoch 0 on both sides: the next add commits epoch 1.
    const added = await alice.sdk.addMembers(chatId!, [carol.user.cyphrId]);
    expect(added.epoch).toBe(1n);
    expect(await chatIds(carol, ChatListFilter.ACCEPTED)).toEqual([chatId]);
  });

  it("under CONTACTS (the default) adds a contact directly and makes anyone else's add a request", async () => {
    const [alice, bob, carol] = await users(3);
    await bob.sdk.startDirectChat(alice.user.cyphrId); // Bob wrote first: Bob accepted Alice.
    const { chatId } = await alice.sdk.createGroup([bob.user.cyphrId, carol.user.cyphrId]);
    expect(await chatIds(bob, ChatListFilter.ACCEPTED)).toContain(chatId);
    expect(await chatIds(bob, ChatListFilter.REQUESTS)).toEqual([]);
    expect(await chatIds(carol, ChatListFilter.REQUESTS)).toEqual([chatId]);
    expect((await carol.chats.listWelcomes({ chatId })).welcomes.map((w) => w.request)).toEqual([true]);

    // Carol's typing in the group reaches nobody until she accepts.
    await carol.acceptWelcome(chatId);
    const aliceStream = await online(alice);
    const carolStream = await online(carol);
    carolStream.typing(chatId, true);
    expect(await aliceStream.quiet("typing", QUIET_MS)).toEqual([]);
    await privacy(carol).acceptChat({ chatId });
    carolStream.typing(chatId, true);
    expect((await aliceStream.take("typing")).value).toMatchObject({ chatId, userId: carol.user.userId });
  });

  it("is refused for a blocker by the user they blocked, with the answer a NOBODY policy gives, even under EVERYONE", async () => {
    const [alice, bob, carol] = await users(3);
    await setGroupAdds(bob, GroupAddPolicy.EVERYONE);
    await privacy(bob).blockUser({ cyphrId: alice.user.cyphrId });
    const { chatId, epoch } = await alice.sdk.createGroup([]);
    await expect(alice.sdk.addMembers(chatId, [bob.user.cyphrId, carol.user.cyphrId])).rejects.toMatchObject({
      code: "permission_denied",
      message: `"${bob.user.cyphrId}" does not accept group adds from you`,
    });
    expect((await groups(alice).listMembers({ chatId })).members).toHaveLength(1);
    expect(await epochOf(alice, chatId)).toBe(epoch);
    expect(await chatIds(carol, ChatListFilter.UNSPECIFIED)).toEqual([]);
    const history = await alice.messaging.listMessages({ chatId, cursorSeq: 0n, direction: 2, limit: 50 });
    expect(history.messages.filter((m) => m.messageType === MessageType.MLS_COMMIT)).toHaveLength(1); // createGroup's own
  });
});

describe("the SDK's Live", () => {
  async function started(name: string): Promise<LiveDevice> {
    const d = await registerLiveDevice(name, { baseUrl: server.baseUrl });
    lives.push(d);
    await d.live.start();
    return d;
  }
  const typingOf = (d: LiveDevice) => (events: LiveEvent[]) => events.some((e) => e.kind === "typing" && e.cyphrId === d.account.cyphrId && e.typing);

  it("says a chat it joins is a request; after live.acceptChat the peer's typing and read receipts reach the creator", async () => {
    const alice = await started("rq_alice");
    const bob = await started("rq_bob");
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.until((ev) => ev.some((e) => e.kind === "chat" && e.change === "joined" && e.chatId === chatId));
    expect(bob.events.find((e) => e.kind === "chat" && e.change === "joined")).toMatchObject({ chatId, request: true });
    await alice.until((ev) => ev.some((e) => e.kind === "state" && e.state === "caught_up"));

    const { seq } = await alice.mls.send(chatId, "read me");
    await bob.live.markRead(chatId, seq);
    await bob.live.setTyping(chatId, true);
    await alice.live.setTyping(chatId, true);
    await bob.until(typingOf(alice)); // the creator accepted Bob by starting the chat
    expect(alice.events.filter((e) => e.kind === "receipt" || e.kind === "typing")).toEqual([]);

    await bob.live.acceptChat(chatId);
    await bob.live.setTyping(chatId, true);
    await alice.until(typingOf(bob));
    const second = await alice.mls.send(chatId, "and this");
    await bob.live.markRead(chatId, second.seq);
    await alice.until((ev) => ev.some((e) => e.kind === "receipt" && e.cyphrId === bob.account.cyphrId && e.readSeq === second.seq));
  });

  it("declines a request with live.declineChat: the creator's next message never comes", async () => {
    const alice = await started("dc_alice");
    const bob = await started("dc_bob");
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.until((ev) => ev.some((e) => e.kind === "chat" && e.change === "joined" && e.chatId === chatId));
    await bob.live.declineChat(chatId);
    const { seq } = await alice.mls.send(chatId, "unheard");
    await alice.until((ev) => ev.some((e) => e.kind === "message" && e.seq === seq));
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    expect(bob.events.filter((e) => e.kind === "message" || e.kind === "unreadable")).toEqual([]);
  });
});
