import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChatListFilter } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { GroupAddPolicy } from "../src/gen/cyphr/privacy/v1/privacy_pb.js";
import { CallSignalType } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { identityClient } from "./helpers/clients.js";
import { chatEntry, createGroupOf, type Participant, participants, sendInChat, sendTo } from "./helpers/messaging.js";
import { privacyOf } from "./helpers/privacy.js";
import { closeAllStreams, grpcJsConnect, type RealtimeStream } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Consent and blocking over the wire: a first message from someone not accepted is a
 * request, with nothing of the recipient flowing back until they accept; a block stops
 * everything of the blocked user from reaching the blocker, and the blocked user's calls
 * answer exactly as they would for a recipient who is offline and never reads.
 */

/** How long a stream is watched for a frame that must not come. */
const QUIET_MS = 400;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterEach(closeAllStreams);
afterAll(() => server?.close());

const privacy = (user: Participant) => privacyOf(server.baseUrl, user);

async function online(user: Participant): Promise<RealtimeStream> {
  const stream = grpcJsConnect(server.baseUrl, user.accessToken);
  await stream.caughtUp();
  return stream;
}

async function requestsOf(user: Participant): Promise<string[]> {
  return (await user.messaging.listChats({ filter: ChatListFilter.REQUESTS })).chats.map((c) => c.chatId);
}

describe("Message requests", () => {
  it("a first message from someone not accepted is a request for the recipient, not for the sender", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    expect(await requestsOf(bob)).toEqual([chatId]);
    expect((await chatEntry(bob, chatId))?.request).toBe(true);
    expect((await bob.messaging.listChats({ filter: ChatListFilter.ACCEPTED })).chats).toEqual([]);
    expect(await requestsOf(alice)).toEqual([]);
    expect((await alice.messaging.listChats({ filter: ChatListFilter.ACCEPTED })).chats.map((c) => c.chatId)).toEqual([chatId]);
  });

  it("until the recipient accepts, the sender gets no receipts and no typing; after AcceptChat both flow", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const sent = await sendTo(alice, bob);
    const aliceStream = await online(alice);
    const bobStream = await online(bob);
    await bob.messaging.markRead({ chatId: sent.chatId, upToSeq: sent.seq });
    bobStream.typing(sent.chatId, true);
    expect(await aliceStream.quiet("receipt", QUIET_MS)).toEqual([]);
    expect(await aliceStream.quiet("typing", 0)).toEqual([]);

    await privacy(bob).acceptChat({ chatId: sent.chatId });
    expect(await requestsOf(bob)).toEqual([]);
    const second = await sendInChat(alice, sent.chatId);
    await bob.messaging.markRead({ chatId: sent.chatId, upToSeq: second.seq });
    const { value } = await aliceStream.take("receipt");
    expect(value).toMatchObject({ userId: bob.userId, readSeq: second.seq });
    bobStream.typing(sent.chatId, true);
    expect((await aliceStream.take("typing")).value).toMatchObject({ chatId: sent.chatId, userId: bob.userId, typing: true });
  });

  it("replying accepts the request", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    await sendInChat(bob, chatId);
    expect(await requestsOf(bob)).toEqual([]);
    expect((await chatEntry(bob, chatId))?.request).toBe(false);
  });

  it("DeclineChat removes the request; the sender's later messages still succeed for them and never reach the decliner", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    await privacy(bob).declineChat({ chatId });
    expect((await bob.messaging.listChats({})).chats.map((c) => c.chatId)).not.toContain(chatId);
    const bobStream = await online(bob);
    const later = await sendInChat(alice, chatId);
    expect(later.seq).toBe(2n);
    expect(await bobStream.quiet("messageNew", QUIET_MS, (m) => m.seq === later.seq)).toEqual([]);
  });

  it("DeclineChat of a chat that is not a request is FAILED_PRECONDITION; of a chat one is not in, NOT_FOUND; a bad id INVALID_ARGUMENT", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    const { chatId } = await sendTo(alice, bob);
    await expectRpcError(privacy(alice).declineChat({ chatId }), Code.FailedPrecondition, "is not a message request for you");
    await expectRpcError(privacy(carol).declineChat({ chatId }), Code.NotFound, `chat ${chatId} not found`);
    await expectRpcError(privacy(carol).acceptChat({ chatId: "nope" }), Code.InvalidArgument, "chat_id must be a UUID");
  });

  it("a group add by someone not accepted makes the group a request (GROUP_ADD_POLICY_CONTACTS, the default)", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const chatId = await createGroupOf(alice, [bob]);
    expect(await requestsOf(bob)).toEqual([chatId]);
    await privacy(bob).acceptChat({ chatId });
    expect(await requestsOf(bob)).toEqual([]);
  });

  it("an accepted contact's group add is no request; NOBODY refuses every add; EVERYONE takes anyone's add directly", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    await sendTo(bob, alice); // Bob writes first: Bob accepted Alice.
    const chatId = await createGroupOf(alice, [bob]);
    expect((await chatEntry(bob, chatId))?.request).toBe(false);

    await privacy(bob).updatePrivacySettings({ updatePaths: ["group_adds"], settings: { groupAdds: GroupAddPolicy.NOBODY } });
    await expectRpcError(
      carol.groups.createGroup({ encryptedName: new Uint8Array([1]), memberCyphrIds: [bob.cyphrId] }),
      Code.PermissionDenied,
      `"${bob.cyphrId}" does not accept group adds from you`,
    );
    await privacy(bob).updatePrivacySettings({ updatePaths: ["group_adds"], settings: { groupAdds: GroupAddPolicy.EVERYONE } });
    const open = await createGroupOf(carol, [bob]);
    expect((await chatEntry(bob, open))?.request).toBe(false);
  });
});

describe("Blocking", () => {
  it("BlockUser, ListBlocked (newest first, paged), UnblockUser; blocking oneself or an unknown id is refused", async () => {
    const [bob, a, b, c] = await participants(server.baseUrl, 4);
    for (const u of [a, b, c]) await privacy(bob).blockUser({ cyphrId: u.cyphrId });
    await privacy(bob).blockUser({ cyphrId: c.cyphrId }); // again: still one block
    const first = await privacy(bob).listBlocked({ limit: 2 });
    const second = await privacy(bob).listBlocked({ limit: 2, pageToken: first.nextPageToken });
    expect([...first.blocked, ...second.blocked].map((x) => x.cyphrId)).toEqual([c.cyphrId, b.cyphrId, a.cyphrId]);
    expect(second.nextPageToken).toBe("");
    await privacy(bob).unblockUser({ cyphrId: b.cyphrId });
    expect((await privacy(bob).listBlocked({})).blocked.map((x) => x.cyphrId)).toEqual([c.cyphrId, a.cyphrId]);
    await expectRpcError(privacy(bob).blockUser({ cyphrId: bob.cyphrId }), Code.InvalidArgument, "you cannot block yourself");
    await expectRpcError(privacy(bob).blockUser({ cyphrId: "nobody_at_all" }), Code.NotFound, "user nobody_at_all not found");
    await expectRpcError(privacy(bob).listBlocked({ pageToken: "junk" }), Code.InvalidArgument, "page_token is not a token returned by ListBlocked");
  });

  it("a blocked user's messages, typing and calls never reach the blocker, and each answers the blocked user as for an offline recipient", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(bob, alice); // Bob wrote first, so Alice is Bob's contact
    await sendInChat(alice, chatId); // and Alice replied: each accepted the other
    await privacy(bob).blockUser({ cyphrId: alice.cyphrId });
    const bobStream = await online(bob);
    const aliceStream = await online(alice);

    const sent = await sendInChat(alice, chatId);
    expect(sent.seq).toBe(3n);
    aliceStream.typing(chatId, true);
    const callId = randomUUID();
    aliceStream.send({ requestId: "offer", frame: { case: "callSignal", value: { callId, chatId, type: CallSignalType.OFFER, payload: Buffer.from("v=0") } } });
    expect(await bobStream.quiet("messageNew", QUIET_MS, (m) => m.seq === sent.seq)).toEqual([]);
    expect(await bobStream.quiet("typing", 0)).toEqual([]);
    expect(await bobStream.quiet("callSignal", 0)).toEqual([]);
    expect(aliceStream.all("frameError")).toEqual([]);
    // Bob's own receipts and typing stop reaching Alice too.
    await bob.messaging.markRead({ chatId, upToSeq: 3n });
    bobStream.typing(chatId, true);
    expect(await aliceStream.quiet("receipt", QUIET_MS)).toEqual([]);
    expect(await aliceStream.quiet("typing", 0)).toEqual([]);

    await privacy(bob).unblockUser({ cyphrId: alice.cyphrId });
    const after = await sendInChat(alice, chatId);
    expect((await bobStream.take("messageNew", (m) => m.seq === after.seq)).value.chatId).toBe(chatId);
  });

  it("a blocked user cannot add the blocker to a group (the answer a NOBODY policy gives) or find them by search", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await privacy(bob).updatePrivacySettings({
      updatePaths: ["discoverable", "group_adds"],
      settings: { discoverable: true, groupAdds: GroupAddPolicy.EVERYONE },
    });
    const search = () => identityClient("connect", server.baseUrl, { token: alice.accessToken }).searchUsers({ prefix: bob.cyphrId });
    expect((await search()).profiles.map((p) => p.cyphrId)).toEqual([bob.cyphrId]);
    await privacy(bob).blockUser({ cyphrId: alice.cyphrId });
    expect((await search()).profiles).toEqual([]);
    await expectRpcError(
      alice.groups.createGroup({ encryptedName: new Uint8Array([1]), memberCyphrIds: [bob.cyphrId] }),
      Code.PermissionDenied,
      `"${bob.cyphrId}" does not accept group adds from you`,
    );
  });

  it("blocking declines the blocked user's open requests", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    await privacy(bob).blockUser({ cyphrId: alice.cyphrId });
    expect(await requestsOf(bob)).toEqual([]);
    expect((await bob.messaging.listChats({})).chats.map((c) => c.chatId)).not.toContain(chatId);
  });
});
