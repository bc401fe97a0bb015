import { createClient } from "@connectrpc/connect";
import { type ClientState, emptyPskIndex, processPrivateMessage, processPublicMessage } from "ts-mls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupsService } from "../src/gen/cyphr/groups/v1/groups_pb.js";
import { Direction, type Message } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import type { LiveEvent } from "../src/sdk/index.js";
import { decodeMessage, suiteImpl } from "../src/sdk/mls/codec.js";
import { GroupStore } from "../src/sdk/mls/group-store.js";
import { nodeTransport } from "../src/sdk/node/transport.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { errorsOf, joined, type LiveDevice, LiveFleet, linkLiveDevice, liveDevice, registerLiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
const fleet = new LiveFleet();

beforeAll(async () => {
  server = await startTestServer({ env: { DEVICE_LINK_BEGIN_PER_MINUTE: "6000", DEVICE_LINK_BEGIN_BURST: "1000", DEVICE_LINKS_PENDING_PER_SOURCE: "100" } });
});

afterAll(async () => {
  await fleet.closeAll();
  await server?.close();
});

const started = (d: LiveDevice) => fleet.started(d);
const unique = (text: string) => fleet.unique(text);
const removedLeavesOf = (chatId: string, cyphrId: string) => (events: LiveEvent[]) =>
  events.some((e) => e.kind === "chat" && e.chatId === chatId && e.removedLeavesOf?.includes(cyphrId));

/** The chat's messages after `afterSeq` as a current member's device fetches them. */
async function messagesAfter(reader: LiveDevice, chatId: string, afterSeq: bigint): Promise<Message[]> {
  const auth = { headers: { authorization: `Bearer ${await reader.account.accessToken()}` } };
  return (await reader.mls.messaging.listMessages({ chatId, cursorSeq: afterSeq, direction: Direction.FORWARD, limit: 200 }, auth)).messages;
}

/**
 * What a departed device could read with the MLS state it kept: it processes every later message
 * in order with ts-mls (as its SDK would, were the messages handed to it) and returns the texts it
 * decrypted; it stops at the first commit it cannot apply.
 */
async function readableWith(state: ClientState, messages: Message[]): Promise<string[]> {
  const impl = await suiteImpl();
  const texts: string[] = [];
  for (const m of messages) {
    const decoded = m.payload ? decodeMessage(m.payload.ciphertext) : undefined;
    if (!decoded) continue;
    try {
      if (decoded.wireformat === "mls_public_message") {
        state = (await processPublicMessage(state, decoded.publicMessage, emptyPskIndex, impl)).newState;
      } else if (decoded.wireformat === "mls_private_message") {
        const result = await processPrivateMessage(state, decoded.privateMessage, emptyPskIndex, impl);
        state = result.newState;
        if (result.kind === "applicationMessage") texts.push(new TextDecoder().decode(result.message));
      }
    } catch {
      if (decoded.wireformat === "mls_public_message") return texts;
    }
  }
  return texts;
}

describe("SDK: the MLS leaves of members who left a group or deleted the account are removed", () => {
  it("after a leave and after an account deletion, the next message reaches every remaining device and none of the departed one's", async () => {
    const alice = await started(await registerLiveDevice("dep_alice", { baseUrl: server.baseUrl }));
    const bob = await started(await registerLiveDevice("dep_bob", { baseUrl: server.baseUrl }));
    const bobTablet = await started(await linkLiveDevice("dep_bob_tablet", bob, { baseUrl: server.baseUrl }));
    const carol = await started(await registerLiveDevice("dep_carol", { baseUrl: server.baseUrl }));
    const dave = await started(await registerLiveDevice("dep_dave", { baseUrl: server.baseUrl }));
    const { chatId } = await alice.mls.createGroup([bob.account.cyphrId, carol.account.cyphrId, dave.account.cyphrId]);
    for (const d of [bob, bobTablet, carol, dave]) await d.until(joined(chatId));
    const hello = unique("hello everyone");
    await alice.mls.send(chatId, hello);
    for (const d of [bob, bobTablet, carol, dave]) await d.until(() => d.texts(chatId).includes(hello));

    // Carol leaves through GroupsService: the server ends her membership, Alice's device (the lowest leaf) removes her leaf.
    const groups = createClient(GroupsService, nodeTransport(server.baseUrl));
    await groups.leaveGroup({ chatId }, { headers: { authorization: `Bearer ${await carol.account.accessToken()}` } });
    await alice.until(removedLeavesOf(chatId, carol.account.cyphrId));
    expect(await alice.mls.leavesOf(chatId, carol.account.cyphrId)).toEqual([]);
    const afterLeave = unique("after carol left");
    await alice.mls.send(chatId, afterLeave);
    for (const d of [bob, bobTablet, dave]) await d.until(() => d.texts(chatId).includes(afterLeave));
    const carolState = await carol.mls.state(chatId);
    const carolSeq = (await carol.mls.position(chatId)).lastSeq;
    expect(await readableWith(carolState, await messagesAfter(alice, chatId, carolSeq))).toEqual([]);
    expect(carol.texts(chatId)).toEqual([hello]);

    // Bob deletes his account: both his devices' leaves go, in one commit by Alice's device.
    const bobState = await bob.mls.state(chatId);
    const bobSeq = (await bob.mls.position(chatId)).lastSeq;
    const daveState = await dave.mls.state(chatId);
    const daveSeq = (await dave.mls.position(chatId)).lastSeq;
    await bob.account.lifecycle().deleteAccount();
    await alice.until(removedLeavesOf(chatId, bob.account.cyphrId));
    expect(await alice.mls.leavesOf(chatId, bob.account.cyphrId)).toEqual([]);
    const afterDeletion = unique("after bob deleted his account");
    await alice.mls.send(chatId, afterDeletion);
    await dave.until(() => dave.texts(chatId).includes(afterDeletion));
    for (const state of [bobState, await bobTablet.mls.state(chatId)]) {
      expect(await readableWith(state, await messagesAfter(alice, chatId, bobSeq))).toEqual([]);
    }
    // The same check with the state Dave's device had at that moment does read it (a member's state moves on with the commit).
    expect(await readableWith(daveState, await messagesAfter(alice, chatId, daveSeq))).toEqual([afterDeletion]);
    expect(await dave.mls.history(chatId)).toMatchObject([{ text: hello }, { text: afterLeave }, { text: afterDeletion }]);

    // Only one device committed each removal; nothing failed.
    expect(dave.events.some((e) => e.kind === "chat" && (e.removedLeavesOf?.length ?? 0) > 0)).toBe(false);
    expect(errorsOf(alice.events)).toEqual([]);
    expect(errorsOf(dave.events)).toEqual([]);
    expect(
      await findAllEverywhere(
        server.databaseUrl,
        fleet.plaintexts.map((p) => new TextEncoder().encode(p)),
      ),
    ).toEqual([]);
  }, 180_000);

  it("while the device that acts is offline, the next sender removes the departed member's leaves before encrypting", async () => {
    const alice = await started(await registerLiveDevice("off_alice", { baseUrl: server.baseUrl }));
    const bob = await started(await registerLiveDevice("off_bob", { baseUrl: server.baseUrl }));
    const bobTablet = await started(await linkLiveDevice("off_bob_tablet", bob, { baseUrl: server.baseUrl }));
    const carol = await started(await registerLiveDevice("off_carol", { baseUrl: server.baseUrl }));
    const dave = await started(await registerLiveDevice("off_dave", { baseUrl: server.baseUrl }));
    const { chatId } = await alice.mls.createGroup([bob.account.cyphrId, carol.account.cyphrId, dave.account.cyphrId]);
    for (const d of [bob, bobTablet, carol, dave]) await d.until(joined(chatId));
    const hello = unique("hello while alice is here");
    await alice.mls.send(chatId, hello);
    for (const d of [bob, bobTablet, carol, dave]) await d.until(() => d.texts(chatId).includes(hello));

    // Alice's device holds the lowest leaf: it is the one to remove departed members, and it is not running.
    expect(await bob.mls.leavesOf(chatId, alice.account.cyphrId)).toEqual([0]);
    await alice.live.close();
    const groups = createClient(GroupsService, nodeTransport(server.baseUrl));
    await groups.leaveGroup({ chatId }, { headers: { authorization: `Bearer ${await carol.account.accessToken()}` } });
    await bob.until((events) => events.some((e) => e.kind === "chat" && e.chatId === chatId && e.member?.action === "left"));
    expect(await bob.mls.leavesOf(chatId, carol.account.cyphrId)).toHaveLength(1);
    const carolState = await carol.mls.state(chatId);
    const carolSeq = (await carol.mls.position(chatId)).lastSeq;

    const afterLeave = unique("sent by bob after carol left");
    await bob.mls.send(chatId, afterLeave);
    for (const d of [bobTablet, dave]) await d.until(() => d.texts(chatId).includes(afterLeave));
    expect(await readableWith(carolState, await messagesAfter(bob, chatId, carolSeq))).toEqual([]);
    expect(await bob.mls.leavesOf(chatId, carol.account.cyphrId)).toEqual([]);
    expect(carol.texts(chatId)).toEqual([hello]);
    // The departure is settled: later sends read no member list.
    expect(await new GroupStore(bob.store).departureSeq(chatId)).toBeUndefined();

    // Alice's device comes back: it catches up, finds nothing left to remove, and reads Bob's message.
    const aliceBack = await started(liveDevice("off_alice_back", alice.account, alice.store, { baseUrl: server.baseUrl }));
    await aliceBack.until(() => aliceBack.texts(chatId).includes(afterLeave));
    expect(await aliceBack.mls.history(chatId)).toMatchObject([{ text: hello }, { text: afterLeave }]);
    expect(aliceBack.events.some((e) => e.kind === "chat" && (e.removedLeavesOf?.length ?? 0) > 0)).toBe(false);
    for (const d of [aliceBack, bob, bobTablet, dave]) expect(errorsOf(d.events)).toEqual([]);
  }, 180_000);
});
