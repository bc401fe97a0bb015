import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  emptyPskIndex,
  encodeMlsMessage,
  joinGroupExternal,
  processPrivateMessage,
} from "ts-mls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupsService } from "../src/gen/cyphr/groups/v1/groups_pb.js";
import { ChatProtocol, MessageType, MessagingService } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { deviceCredentialIdentity } from "../src/mls/credential.js";
import { clientFor, identityClient, PROTOCOLS, type Protocol } from "./helpers/clients.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { linkDevice } from "./helpers/devices.js";
import { deviceKeyPackage, suiteImpl } from "./helpers/mls.js";
import { MlsDevice, mlsBytes } from "./helpers/mls-client.js";
import { closeAllStreams, subscribe } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

let server: TestServer;
/** Many devices are linked from 127.0.0.1 here. */
const LINKS = { DEVICE_LINK_BEGIN_PER_MINUTE: "6000", DEVICE_LINK_BEGIN_BURST: "1000", DEVICE_LINKS_PENDING_PER_SOURCE: "100" };
const plaintexts: string[] = [];
const devices: MlsDevice[] = [];

beforeAll(async () => {
  server = await startTestServer({ env: LINKS });
});

afterAll(async () => {
  await closeAllStreams();
  await server?.close();
});

async function newUser(): Promise<RegisteredUser> {
  return registerUser(identityClient("connect", server.baseUrl));
}

function device(user: RegisteredUser, protocol: Protocol = "connect"): MlsDevice {
  const d = new MlsDevice(user, server.baseUrl, protocol);
  devices.push(d);
  return d;
}

async function say(from: MlsDevice, chatId: string, words: string): Promise<void> {
  const unique = `${words} (${randomUUID().slice(0, 8)})`;
  plaintexts.push(unique);
  await from.send(chatId, unique);
}

function last(d: MlsDevice, chatId: string, n = 1): string[] {
  return (d.read.get(chatId) ?? []).slice(-n).map((t) => t.replace(/ \([0-9a-f]{8}\)$/, ""));
}

/** An MLS direct chat from Alice's first device to Bob's device and her own second one. */
async function directChat(protocol: Protocol) {
  const alice = await newUser();
  const bob = await newUser();
  const a1 = device(alice, protocol);
  const a2 = device(await linkDevice(server.baseUrl, alice), protocol);
  const b1 = device(bob, protocol);
  await b1.uploadKeyPackages(3);
  await a2.uploadKeyPackages(3);
  const created = await a1.chats.createMlsChat({ kind: { case: "peerCyphrId", value: bob.cyphrId }, ciphersuite: 0 });
  expect(created).toMatchObject({ ciphersuite: 82, epoch: 0n });
  expect(Buffer.from(created.groupId).toString("hex")).toBe(created.chatId.replaceAll("-", ""));
  await a1.startGroup(created.chatId, created.groupId);
  const forBob = await a1.keys.claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: 0 });
  const forMe = await a1.keys.claimKeyPackages({ cyphrId: alice.cyphrId, ciphersuite: 0 });
  const committed = await a1.commit(created.chatId, { add: [...forBob.keyPackages, ...forMe.keyPackages] });
  return { alice, bob, a1, a2, b1, chatId: created.chatId, committed };
}

describe.each(PROTOCOLS)("an MLS direct chat over %s", (protocol) => {
  it("welcomes Bob's device and Alice's second device, and all three exchange messages they decrypt", async () => {
    const { alice, bob, a1, a2, b1, chatId, committed } = await directChat(protocol);
    expect(committed.epoch).toBe(1n);
    expect(committed.welcomed.map((w) => [w.cyphrId, w.deviceId]).sort()).toEqual(
      [
        [alice.cyphrId, 2],
        [bob.cyphrId, 1],
      ].sort(),
    );
    await b1.acceptWelcome(chatId);
    await a2.acceptWelcome(chatId);
    expect(await Promise.all([a1.epoch(chatId), a2.epoch(chatId), b1.epoch(chatId)])).toEqual([1n, 1n, 1n]);

    await say(a1, chatId, "hello from alice's phone");
    await say(b1, chatId, "hi alice, bob here");
    await say(a2, chatId, "alice from the browser");
    for (const d of [a1, a2, b1]) await d.sync(chatId);
    expect(last(b1, chatId, 2)).toEqual(["hello from alice's phone", "alice from the browser"]);
    expect(last(a1, chatId, 2)).toEqual(["hi alice, bob here", "alice from the browser"]);
    expect(last(a2, chatId, 2)).toEqual(["hello from alice's phone", "hi alice, bob here"]);

    const { chats } = await a1.messaging.listChats({});
    expect(chats.find((c) => c.chatId === chatId)).toMatchObject({ protocol: ChatProtocol.MLS, mlsEpoch: 1n, mlsCiphersuite: 82 });
  });
});

describe("devices joining and leaving an MLS chat", () => {
  it("tells each welcomed device by a durable mls_welcome event, which the account's other devices do not receive", async () => {
    const bob = await newUser();
    const bob2 = await linkDevice(server.baseUrl, bob);
    const alice = await newUser();
    const a1 = device(alice);
    const b2 = device(bob2);
    await b2.uploadKeyPackages(1);
    const created = await a1.chats.createMlsChat({ kind: { case: "peerCyphrId", value: bob.cyphrId }, ciphersuite: 0 });
    await a1.startGroup(created.chatId, created.groupId);
    const claimed = await a1.keys.claimKeyPackages({ cyphrId: bob.cyphrId, ciphersuite: 0 });
    expect(claimed.keyPackages.map((k) => k.deviceId)).toEqual([2]);
    // Bob's device 1 is online (live delivery); device 2 is offline and reads on resume.
    const onDevice1 = subscribe(server.baseUrl, bob.accessToken);
    await onDevice1.take("caughtUp");
    const commit = await a1.commit(created.chatId, { add: claimed.keyPackages });
    const onDevice2 = subscribe(server.baseUrl, bob2.accessToken, { resumeCursor: 0 });
    const event = await onDevice2.take("mlsWelcome");
    expect(event.value).toMatchObject({ chatId: created.chatId, deviceId: 2, commitSeq: commit.seq });
    expect(event.value.welcome.length).toBe(0);
    await b2.acceptWelcome(created.chatId);
    await say(a1, created.chatId, "only for bob's second device");
    expect((await b2.sync(created.chatId)).length).toBe(1);
    // Device 1 got the commit and the message live, never the Welcome; nor does its replay hold it.
    await onDevice1.take("messageNew", (m) => m.messageType === MessageType.TEXT);
    expect(onDevice1.all("mlsWelcome")).toEqual([]);
    const replayed = subscribe(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    await replayed.take("caughtUp");
    expect(replayed.all("mlsWelcome")).toEqual([]);
    expect(replayed.all("messageNew").length).toBeGreaterThanOrEqual(2);
    const { welcomes } = await device(bob).chats.listWelcomes({});
    expect(welcomes).toEqual([]);
  });

  it.each(PROTOCOLS)("lets Bob's new device join by external commit over %s: it reads new messages, not old ones", async (protocol) => {
    const { bob, a1, a2, b1, chatId } = await directChat(protocol);
    await b1.acceptWelcome(chatId);
    await a2.acceptWelcome(chatId);
    await say(a1, chatId, "before bob's tablet");
    const tablet = device(await linkDevice(server.baseUrl, bob), protocol);
    const joined = await tablet.joinExternally(chatId);
    expect(joined.epoch).toBe(2n);
    for (const d of [a1, a2, b1]) await d.sync(chatId);
    expect(await Promise.all([a1, a2, b1].map((d) => d.epoch(chatId)))).toEqual([2n, 2n, 2n]);
    await say(a1, chatId, "welcome, tablet");
    const read = await tablet.sync(chatId);
    expect(read.map((t) => t.replace(/ \([0-9a-f]{8}\)$/, ""))).toEqual(["welcome, tablet"]);
    await b1.sync(chatId);
    expect(last(b1, chatId, 2)).toEqual(["before bob's tablet", "welcome, tablet"]);
  });
});

describe("an MLS group of five", () => {
  it("adds members with their Welcomes, removes one who then can neither fetch nor decrypt, and orders two racing commits", async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => newUser()));
    const [admin, b, c, d, e] = users.map((u) => device(u)) as [MlsDevice, MlsDevice, MlsDevice, MlsDevice, MlsDevice];
    for (const m of [b, c, d, e]) await m.uploadKeyPackages(2);
    const created = await admin.chats.createMlsChat({ kind: { case: "group", value: { encryptedName: new Uint8Array([1, 2, 3]) } }, ciphersuite: 0 });
    const chatId = created.chatId;
    await admin.startGroup(chatId, created.groupId);
    const claim = async (m: MlsDevice) => (await admin.keys.claimKeyPackages({ cyphrId: m.user.cyphrId, ciphersuite: 0 })).keyPackages;

    await admin.commit(chatId, { add: [...(await claim(b)), ...(await claim(c))], addCyphrIds: [b.user.cyphrId, c.user.cyphrId] });
    for (const m of [b, c]) await m.acceptWelcome(chatId);
    const second = await admin.commit(chatId, { add: [...(await claim(d)), ...(await claim(e))], addCyphrIds: [d.user.cyphrId, e.user.cyphrId] });
    expect(second.epoch).toBe(2n);
    for (const m of [d, e]) await m.acceptWelcome(chatId);
    for (const m of [b, c]) await m.sync(chatId);
    const members = await clientFor(GroupsService, "connect", server.baseUrl, { token: admin.user.accessToken }).listMembers({ chatId });
    expect(members.members).toHaveLength(5);
    await say(d, chatId, "hello everyone");
    for (const m of [admin, b, c, e]) expect((await m.sync(chatId)).length).toBe(1);

    // The admin removes e: the server ends e's membership with the commit that removes e's leaf.
    const removal = await admin.commit(chatId, { removeLeaves: await admin.leavesOf(chatId, e.user.cyphrId), removeCyphrIds: [e.user.cyphrId] });
    expect(removal.epoch).toBe(3n);
    for (const m of [b, c, d]) await m.sync(chatId);
    const secret = await admin.send(chatId, "e must not read this");
    plaintexts.push("e must not read this");
    const eSees = await e.messaging.listMessages({ chatId, cursorSeq: 0n, direction: 2, limit: 200 });
    expect(eSees.messages.map((m) => m.messageId)).not.toContain(secret.messageId);
    await expectRpcError(
      e.messaging.sendMessage({
        destination: { case: "chatId", value: chatId },
        clientMessageId: randomUUID(),
        messageType: MessageType.TEXT,
        payload: { ciphertext: new Uint8Array([1]) },
      }),
      Code.PermissionDenied,
      "no longer a member",
    );
    // Even handed the ciphertext, e's last epoch cannot open it.
    const bSees = await b.messaging.listMessages({ chatId, cursorSeq: 0n, direction: 2, limit: 200 });
    const stolen = bSees.messages.find((m) => m.messageId === secret.messageId)!;
    const stolenMessage = (await import("ts-mls")).decodeMlsMessage(stolen.payload!.ciphertext, 0)![0];
    if (stolenMessage.wireformat !== "mls_private_message") throw new Error("expected a PrivateMessage");
    await expect(processPrivateMessage(await e.state(chatId), stolenMessage.privateMessage, emptyPskIndex, await suiteImpl())).rejects.toThrow();
    for (const m of [b, c, d]) await m.sync(chatId);
    for (const m of [b, c, d]) expect(last(m, chatId, 1)).toEqual(["e must not read this"]);

    // b and c commit on epoch 3 at once: exactly one wins, the other learns it is stale.
    const [pb, pc] = await Promise.all([b.prepareCommit(chatId, []), c.prepareCommit(chatId, [])]);
    const race = await Promise.allSettled(
      [pb, pc].map((p, i) =>
        [b, c][i]!.chats.commitMlsChat({ chatId, clientMessageId: randomUUID(), commit: p.commit, groupInfo: p.groupInfo, welcome: p.welcome }),
      ),
    );
    const won = race.filter((r) => r.status === "fulfilled");
    const lost = race.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toBeInstanceOf(ConnectError);
    expect((lost[0]!.reason as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((lost[0]!.reason as ConnectError).rawMessage).toMatch(/^stale epoch: the commit is for epoch 3 but the chat is at epoch 4/);
    const winner = race[0]!.status === "fulfilled" ? 0 : 1;
    const [w, l] = winner === 0 ? [b, c] : [c, b];
    const wonRes = (race[winner] as PromiseFulfilledResult<{ seq: bigint; messageId: string }>).value;
    await (winner === 0 ? pb : pc).apply(wonRes.seq, wonRes.messageId);
    // The loser processes the winner's commit and commits again on top of it.
    await l.sync(chatId);
    const retried = await l.commit(chatId, {});
    expect(retried.epoch).toBe(5n);
    for (const m of [admin, b, c, d]) await m.sync(chatId);
    expect(await Promise.all([admin, b, c, d].map((m) => m.epoch(chatId)))).toEqual([5n, 5n, 5n, 5n]);
    await say(w, chatId, "after the race");
    for (const m of [admin, l, d]) expect(await m.sync(chatId)).toHaveLength(1);
  });
});

describe("what the delivery service refuses", () => {
  async function groupWithOne() {
    const admin = device(await newUser());
    const member = device(await newUser());
    await member.uploadKeyPackages(2);
    const created = await admin.chats.createMlsChat({ kind: { case: "group", value: {} }, ciphersuite: 0 });
    await admin.startGroup(created.chatId, created.groupId);
    const claimed = (await admin.keys.claimKeyPackages({ cyphrId: member.user.cyphrId, ciphersuite: 0 })).keyPackages;
    await admin.commit(created.chatId, { add: claimed, addCyphrIds: [member.user.cyphrId] });
    await member.acceptWelcome(created.chatId);
    return { admin, member, chatId: created.chatId };
  }

  it("refuses messages that are not an application message or proposal of this group and a current epoch", async () => {
    const { admin, member, chatId } = await groupWithOne();
    const send = (payload: { ciphertext: Uint8Array; nonce?: Uint8Array }, messageType = MessageType.TEXT) =>
      member.messaging.sendMessage({ destination: { case: "chatId", value: chatId }, clientMessageId: randomUUID(), messageType, payload });
    await expectRpcError(send({ ciphertext: new Uint8Array([9, 9, 9]) }), Code.InvalidArgument, "payload.ciphertext is not an MLS message");
    const real = await createApplicationMessage(await member.state(chatId), new Uint8Array([1]), await suiteImpl());
    const realBytes = mlsBytes({ privateMessage: real.privateMessage, wireformat: "mls_private_message", version: "mls10" });
    await expectRpcError(send({ ciphertext: realBytes, nonce: new Uint8Array(12) }), Code.InvalidArgument, "only payload.ciphertext is set");
    await expectRpcError(
      send({ ciphertext: realBytes }, 8 as MessageType),
      Code.InvalidArgument,
      "message_type MLS_COMMIT is written by MlsChatsService.CommitMlsChat",
    );
    const commit = await member.prepareCommit(chatId, []);
    await expectRpcError(send({ ciphertext: commit.commit }), Code.InvalidArgument, "commits go through MlsChatsService.CommitMlsChat");
    // A message of another group (same suite, its own group id).
    const other = device(await newUser());
    const kp = await other.newKeyPackage();
    const impl = await suiteImpl();
    const foreign = await createApplicationMessage(
      await createGroup(new Uint8Array(16).fill(7), kp.publicPackage, kp.privatePackage, [], impl),
      new Uint8Array([1]),
      impl,
    );
    await expectRpcError(
      send({ ciphertext: mlsBytes({ privateMessage: foreign.privateMessage, wireformat: "mls_private_message", version: "mls10" }) }),
      Code.InvalidArgument,
      "names another MLS group than this chat's",
    );
    // Epochs move on by four commits: the member's epoch-1 message is now outside the window of 3.
    for (let i = 0; i < 4; i++) await admin.commit(chatId, {});
    await expectRpcError(send({ ciphertext: realBytes }), Code.InvalidArgument, "is for epoch 1; the chat is at epoch 5 (accepted: 2 to 5)");
    // A non-member learns nothing: the same bad payload is NOT_FOUND for a stranger.
    await expectRpcError(
      other.messaging.sendMessage({
        destination: { case: "chatId", value: chatId },
        clientMessageId: randomUUID(),
        messageType: MessageType.TEXT,
        payload: { ciphertext: new Uint8Array([9]) },
      }),
      Code.NotFound,
      "not found",
    );
  });

  it("edits with a new MLS application message, and refuses other edits", async () => {
    const { admin, member, chatId } = await groupWithOne();
    await say(member, chatId, "typo hree");
    const sent = await member.messaging.listMessages({ chatId, cursorSeq: 0n, direction: 1, limit: 1 });
    const original = sent.messages[0]!;
    const replacement = await createApplicationMessage(await member.state(chatId), new TextEncoder().encode("typo here"), await suiteImpl());
    await member.setState(chatId, replacement.newState);
    const edited = await member.messaging.editMessage({
      messageId: original.messageId,
      payload: { ciphertext: mlsBytes({ privateMessage: replacement.privateMessage, wireformat: "mls_private_message", version: "mls10" }) },
    });
    expect(edited.message?.editedAt).toBeDefined();
    await expectRpcError(
      member.messaging.editMessage({ messageId: original.messageId, payload: { ciphertext: new Uint8Array([1, 2]) } }),
      Code.InvalidArgument,
      "payload.ciphertext is not an MLS message",
    );
    const { messages } = await admin.messaging.listMessages({ chatId, cursorSeq: 0n, direction: 2, limit: 200 });
    const commitMessage = messages.find((m) => m.messageType === (8 as MessageType))!;
    expect(commitMessage.senderCyphrId).toBe(admin.user.cyphrId);
    await expectRpcError(
      admin.messaging.editMessage({ messageId: commitMessage.messageId, payload: { ciphertext: new Uint8Array([1]) } }),
      Code.FailedPrecondition,
      "an MLS commit cannot be edited",
    );
    // The other member decrypts the replacement.
    const { messages: after } = await admin.messaging.listMessages({ chatId, cursorSeq: original.seq - 1n, direction: 2, limit: 1 });
    const decoded = (await import("ts-mls")).decodeMlsMessage(after[0]!.payload!.ciphertext, 0)![0];
    if (decoded.wireformat !== "mls_private_message") throw new Error("expected a PrivateMessage");
    const read = await processPrivateMessage(await admin.state(chatId), decoded.privateMessage, emptyPskIndex, await suiteImpl());
    expect(read.kind === "applicationMessage" && new TextDecoder().decode(read.message)).toBe("typo here");
  });

  it("refuses commits that are stale, ahead, not commits, or whose GroupInfo or Welcome does not fit", async () => {
    const { admin, member, chatId } = await groupWithOne();
    const base = { chatId, welcome: new Uint8Array(0) };
    const stale = await member.prepareCommit(chatId, []);
    await admin.commit(chatId, {});
    await expectRpcError(
      member.chats.commitMlsChat({ ...base, clientMessageId: randomUUID(), commit: stale.commit, groupInfo: stale.groupInfo }),
      Code.FailedPrecondition,
      "stale epoch: the commit is for epoch 1 but the chat is at epoch 2",
    );
    await member.sync(chatId);
    const fresh = await member.prepareCommit(chatId, []);
    await expectRpcError(
      member.chats.commitMlsChat({ ...base, clientMessageId: randomUUID(), commit: fresh.commit, groupInfo: stale.groupInfo }),
      Code.InvalidArgument,
      "group_info is for epoch 2; the commit makes epoch 3",
    );
    const app = await createApplicationMessage(await member.state(chatId), new Uint8Array([1]), await suiteImpl());
    await expectRpcError(
      member.chats.commitMlsChat({
        ...base,
        clientMessageId: randomUUID(),
        commit: mlsBytes({ privateMessage: app.privateMessage, wireformat: "mls_private_message", version: "mls10" }),
        groupInfo: fresh.groupInfo,
      }),
      Code.InvalidArgument,
      "commit is an MLS application message, not a commit",
    );
    await expectRpcError(
      member.chats.commitMlsChat({ ...base, clientMessageId: randomUUID(), commit: fresh.commit, groupInfo: new Uint8Array(0) }),
      Code.InvalidArgument,
      "group_info is required",
    );
    // Membership changes are the admins'; additions need a Welcome that names handed-out packages of members.
    const stranger = device(await newUser());
    await stranger.uploadKeyPackages(1);
    await expectRpcError(
      member.chats.commitMlsChat({
        ...base,
        clientMessageId: randomUUID(),
        commit: fresh.commit,
        groupInfo: fresh.groupInfo,
        addCyphrIds: [stranger.user.cyphrId],
      }),
      Code.InvalidArgument,
      "welcome is required when add_cyphr_ids is set",
    );
    const unknownKp = await deviceKeyPackage({ cyphrId: stranger.user.cyphrId, deviceId: 1, signingSecretKey: stranger.user.device.deviceSecretKey });
    const impl = await suiteImpl();
    const withUnknown = await createCommit(
      { state: await admin.state(chatId), cipherSuite: impl },
      { extraProposals: [{ proposalType: "add", add: { keyPackage: unknownKp.publicPackage } }], ratchetTreeExtension: true },
    );
    const welcomeBytes = encodeMlsMessage({ welcome: withUnknown.welcome!, wireformat: "mls_welcome", version: "mls10" });
    const adminFresh = await admin.prepareCommit(chatId, []);
    await expectRpcError(
      admin.chats.commitMlsChat({
        ...base,
        clientMessageId: randomUUID(),
        commit: adminFresh.commit,
        groupInfo: adminFresh.groupInfo,
        welcome: welcomeBytes,
        addCyphrIds: [stranger.user.cyphrId],
      }),
      Code.InvalidArgument,
      "welcome: secrets[0] names a key package this server did not hand out",
    );
    const claimed = (await admin.keys.claimKeyPackages({ cyphrId: stranger.user.cyphrId, ciphersuite: 0 })).keyPackages;
    const notMember = await admin.prepareCommit(chatId, [
      { proposalType: "add", add: { keyPackage: (await import("./helpers/mls-client.js")).keyPackageOf(claimed[0]!.keyPackage) } },
    ]);
    await expectRpcError(
      admin.chats.commitMlsChat({
        ...base,
        clientMessageId: randomUUID(),
        commit: notMember.commit,
        groupInfo: notMember.groupInfo,
        welcome: notMember.welcome,
      }),
      Code.InvalidArgument,
      "welcome: secrets[0] names a device of a user who is not a member of the chat",
    );
    await expectRpcError(
      member.chats.commitMlsChat({
        ...base,
        clientMessageId: randomUUID(),
        commit: fresh.commit,
        groupInfo: fresh.groupInfo,
        welcome: notMember.welcome,
        addCyphrIds: [stranger.user.cyphrId],
      }),
      Code.PermissionDenied,
      "only group admins can add or remove members",
    );
    // The old membership calls are refused on an MLS group.
    await expectRpcError(
      clientFor(GroupsService, "connect", server.baseUrl, { token: admin.user.accessToken }).addMember({ chatId, cyphrId: stranger.user.cyphrId }),
      Code.FailedPrecondition,
      "this is an MLS group: add and remove members with MlsChatsService.CommitMlsChat",
    );
    // A stranger gets NOT_FOUND; a retried commit is answered as before.
    await expectRpcError(
      stranger.chats.commitMlsChat({ ...base, clientMessageId: randomUUID(), commit: fresh.commit, groupInfo: fresh.groupInfo }),
      Code.NotFound,
      "not found",
    );
    const clientMessageId = randomUUID();
    const first = await member.chats.commitMlsChat({ ...base, clientMessageId, commit: fresh.commit, groupInfo: fresh.groupInfo });
    const again = await member.chats.commitMlsChat({ ...base, clientMessageId, commit: fresh.commit, groupInfo: fresh.groupInfo });
    expect(again).toMatchObject({ duplicate: true, seq: first.seq, messageId: first.messageId, epoch: first.epoch });
  });

  it("lets a device join externally only as itself: its own credential and certified key", async () => {
    const { bob, a1, b1, chatId } = await directChat("connect");
    await b1.acceptWelcome(chatId);
    const tablet = device(await linkDevice(server.baseUrl, bob));
    const info = await tablet.chats.getGroupInfo({ chatId });
    const decodedInfo = (await import("ts-mls")).decodeMlsMessage(info.groupInfo, 0)![0];
    if (decodedInfo.wireformat !== "mls_group_info") throw new Error("expected a GroupInfo");
    const impl = await suiteImpl();
    const attempt = async (kp: Awaited<ReturnType<typeof deviceKeyPackage>>) => {
      const { publicMessage, newState } = await joinGroupExternal(decodedInfo.groupInfo, kp.publicPackage, kp.privatePackage, false, impl);
      const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(newState, [], impl);
      return tablet.chats.joinMlsChat({
        chatId,
        clientMessageId: randomUUID(),
        commit: mlsBytes({ publicMessage, wireformat: "mls_public_message", version: "mls10" }),
        groupInfo: mlsBytes({ groupInfo, wireformat: "mls_group_info", version: "mls10" }),
      });
    };
    const own = { cyphrId: bob.cyphrId, deviceId: tablet.user.device.deviceId, signingSecretKey: tablet.user.device.deviceSecretKey };
    await expectRpcError(
      attempt(await deviceKeyPackage({ ...own, identity: deviceCredentialIdentity(bob.cyphrId, 1) })),
      Code.InvalidArgument,
      `the joining leaf's credential does not name this device (${bob.cyphrId}, device ${tablet.user.device.deviceId})`,
    );
    await expectRpcError(
      attempt(await deviceKeyPackage({ ...own, signingSecretKey: ed25519.utils.randomSecretKey() })),
      Code.InvalidArgument,
      "the joining leaf does not sign with this device's certified signing key",
    );
    await expect(attempt(await deviceKeyPackage(own))).resolves.toMatchObject({ epoch: 2n });
    await a1.sync(chatId);
  });

  it("counts creating a chat and each commit against the sender's send budget", async () => {
    // A burst of 4: the chat's creation and three commits; the fourth commit waits.
    const strict = await startTestServer({ env: { ...LINKS, SEND_BURST: "4", SEND_RATE_PER_SECOND: "1" } });
    try {
      const admin = new MlsDevice(await registerUser(identityClient("connect", strict.baseUrl)), strict.baseUrl);
      const created = await admin.chats.createMlsChat({ kind: { case: "group", value: {} }, ciphersuite: 0 });
      await admin.startGroup(created.chatId, created.groupId);
      for (let i = 0; i < 3; i++) await admin.commit(created.chatId, {});
      const next = await admin.prepareCommit(created.chatId, []);
      const limited = await expectRpcError(
        admin.chats.commitMlsChat({ chatId: created.chatId, clientMessageId: randomUUID(), commit: next.commit, groupInfo: next.groupInfo }),
        Code.ResourceExhausted,
        "send rate limit exceeded",
      );
      expect(Number(limited.metadata.get("retry-after-ms"))).toBeGreaterThan(0);
      // Creating a group spends from the same budget.
      await expectRpcError(
        clientFor(GroupsService, "connect", strict.baseUrl, { token: admin.user.accessToken }).createGroup({}),
        Code.ResourceExhausted,
        "send rate limit exceeded",
      );
    } finally {
      await strict.close();
    }
  });

  it("refuses MLS calls on an OPAQUE chat and member changes in a direct chat", async () => {
    const alice = device(await newUser());
    const bob = await newUser();
    const opaque = await clientFor(MessagingService, "connect", server.baseUrl, { token: alice.user.accessToken }).sendMessage({
      destination: { case: "recipientCyphrId", value: bob.cyphrId },
      clientMessageId: randomUUID(),
      messageType: MessageType.TEXT,
      payload: { ciphertext: new Uint8Array([1, 2, 3]) },
    });
    const commit = await (async () => {
      const kp = await alice.newKeyPackage();
      const impl = await suiteImpl();
      const group = await createGroup(Buffer.from(opaque.chatId.replaceAll("-", ""), "hex"), kp.publicPackage, kp.privatePackage, [], impl);
      await alice.setState(opaque.chatId, group);
      return alice.prepareCommit(opaque.chatId, []);
    })();
    await expectRpcError(
      alice.chats.commitMlsChat({ chatId: opaque.chatId, clientMessageId: randomUUID(), commit: commit.commit, groupInfo: commit.groupInfo }),
      Code.FailedPrecondition,
      "this chat uses the OPAQUE protocol, not MLS",
    );
    const direct = await alice.chats.createMlsChat({ kind: { case: "peerCyphrId", value: bob.cyphrId }, ciphersuite: 84 });
    expect(direct.ciphersuite).toBe(84);
    await expectRpcError(alice.chats.createMlsChat({ kind: { case: "peerCyphrId", value: bob.cyphrId }, ciphersuite: 0 }), Code.AlreadyExists, direct.chatId);
    await expectRpcError(
      alice.chats.createMlsChat({ kind: { case: "peerCyphrId", value: alice.user.cyphrId }, ciphersuite: 0 }),
      Code.InvalidArgument,
      "is your own",
    );
    await expectRpcError(alice.chats.createMlsChat({ kind: { case: undefined }, ciphersuite: 0 }), Code.InvalidArgument, "kind is required");
    await expectRpcError(alice.chats.getGroupInfo({ chatId: direct.chatId }), Code.NotFound, "no GroupInfo yet");
  });
});

describe("what the database holds afterwards", () => {
  it("has no plaintext and no private key anywhere", async () => {
    expect(plaintexts.length).toBeGreaterThan(5);
    // Each device's signing and identity secret keys, and the private keys of its key packages.
    const secrets = (
      await Promise.all(devices.map(async (d) => [d.user.device.deviceSecretKey, d.user.device.identitySecretKey, ...(await d.privateKeys())]))
    ).flat();
    expect(secrets.length).toBeGreaterThan(40);
    const needles = [...plaintexts.map((p) => new TextEncoder().encode(p)), ...secrets];
    expect(await findAllEverywhere(server.databaseUrl, needles)).toEqual([]);
    // The scan does find what is there: a ciphertext the server stores.
    const stored = (await devices[0]!.messaging.listMessages({ chatId: (await devices[0]!.chatIds())[0]!, cursorSeq: 0n, direction: 2, limit: 1 }))
      .messages[0]!;
    const found = await findAllEverywhere(server.databaseUrl, [stored.payload!.ciphertext]);
    expect(found.some((h) => h.table.startsWith("public.messages_p") && h.column === "ciphertext")).toBe(true);
  }, 120_000);
});
