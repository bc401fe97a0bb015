import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyPackagesService } from "../src/gen/cyphr/mls/v1/key_packages_pb.js";
import { CyphrError, Live } from "../src/sdk/index.js";
import { loadCursor, saveCursor } from "../src/sdk/realtime/cursor-store.js";
import { clientFor } from "./helpers/clients.js";
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

async function caught(promise: Promise<unknown>): Promise<CyphrError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CyphrError);
  return error as CyphrError;
}

describe("SDK realtime: receipts, typing, timers, calls, over bidi Connect and over gRPC-Web (Subscribe + Publish)", () => {
  it("round-trips receipts, typing, the chat timer and call signals between a Connect device and a gRPC-Web one", async () => {
    const alice = await started(await registerLiveDevice("rt_alice", { baseUrl: server.baseUrl }));
    const bob = await started(await registerLiveDevice("rt_bob", { baseUrl: server.baseUrl, protocol: "grpc-web" }));
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.until(joined(chatId));

    // Receipts, typing and calls reach accepted contacts only: Alice wrote to Bob, Bob writes back.
    const { seq } = await alice.mls.send(chatId, unique("did you get this?"));
    await bob.until(() => bob.texts(chatId).length === 1);
    const reply = await bob.mls.send(chatId, unique("I did"));
    await alice.until(() => alice.texts(chatId).length === 2);
    // A device marks what it handled delivered by itself; reading is the user's call.
    await bob.until((ev) => ev.some((e) => e.kind === "receipt" && e.cyphrId === alice.account.cyphrId && e.deliveredSeq >= reply.seq));
    expect(await bob.live.markRead(chatId, seq)).toEqual({ readSeq: seq, deliveredSeq: seq });
    await alice.until((ev) => ev.some((e) => e.kind === "receipt" && e.cyphrId === bob.account.cyphrId && e.readSeq === seq));
    expect((await caught(bob.live.markRead(chatId, seq + 100n))).code).toBe("invalid_argument");

    // Typing: on Alice's stream, through Publish for Bob.
    await alice.live.setTyping(chatId, true);
    await bob.until((ev) => ev.some((e) => e.kind === "typing" && e.cyphrId === alice.account.cyphrId && e.typing));
    await bob.live.setTyping(chatId, true);
    await alice.until((ev) => ev.some((e) => e.kind === "typing" && e.cyphrId === bob.account.cyphrId && e.typing));
    expect((await caught(bob.live.setTyping(randomUUID(), true))).code).toBe("not_found");

    // The disappearing-message timer.
    expect(await alice.live.setTimer(chatId, 3600)).toMatchObject({ timerSeconds: 3600 });
    await bob.until((ev) => ev.some((e) => e.kind === "chat" && e.change === "timer" && e.timerSeconds === 3600));
    await bob.live.setTimer(chatId, 0);
    await alice.until((ev) => ev.some((e) => e.kind === "chat" && e.change === "timer" && e.timerSeconds === 0));
    expect((await caught(alice.live.setTimer(chatId, 10 ** 9))).code).toBe("invalid_argument");

    // Calls: the offer rings Bob, his answer reaches Alice, her END ends it for him.
    const callId = randomUUID();
    const offer = new TextEncoder().encode(`v=0 offer ${callId}`);
    await alice.live.sendCallSignal({ callId, type: "offer", chatId, payload: offer, video: true });
    await bob.until((ev) => ev.some((e) => e.kind === "call" && e.signal.callId === callId && e.signal.type === "offer"));
    const rang = bob.events.find((e) => e.kind === "call" && e.signal.type === "offer");
    expect(rang?.kind === "call" && rang.signal).toMatchObject({
      chatId,
      video: true,
      payload: offer,
      from: { userId: alice.account.userId, cyphrId: alice.account.cyphrId },
    });
    await bob.live.sendCallSignal({ callId, type: "answer", payload: new TextEncoder().encode("v=0 answer") });
    await alice.until((ev) => ev.some((e) => e.kind === "call" && e.signal.callId === callId && e.signal.type === "answer"));
    await alice.live.sendCallSignal({ callId, type: "end" });
    await bob.until((ev) => ev.some((e) => e.kind === "call" && e.signal.callId === callId && e.signal.type === "end"));
    expect((await caught(alice.live.sendCallSignal({ callId: randomUUID(), type: "offer", chatId: randomUUID(), payload: offer }))).code).toBe("not_found");
    expect((await alice.live.iceServers()).iceServers).toBeInstanceOf(Array);

    expect(errorsOf(alice.events)).toEqual([]);
    expect(errorsOf(bob.events)).toEqual([]);
  }, 120_000);

  it("tops its key packages up when the server says they run low", async () => {
    const alice = await started(await registerLiveDevice("kp_alice", { baseUrl: server.baseUrl, tuning: { keyPackageTarget: 12 } }));
    const bob = await started(await registerLiveDevice("kp_bob", { baseUrl: server.baseUrl }));
    const counts = async () => clientFor(KeyPackagesService, "connect", server.baseUrl, { token: await alice.account.accessToken() }).getKeyPackageCounts({});
    expect((await counts()).counts[0]?.oneTime).toBe(12);
    // Three claims leave 9, under the threshold of 10: the server tells Alice's device.
    for (let i = 0; i < 3; i++) await bob.mls.claimKeyPackages(alice.account.cyphrId);
    await alice.until((ev) => ev.some((e) => e.kind === "key_packages"));
    expect(alice.events.filter((e) => e.kind === "key_packages")).toEqual([{ kind: "key_packages", uploaded: 3 }]);
    expect((await counts()).counts[0]).toMatchObject({ oneTime: 12, hasLastResort: true });
  }, 120_000);

  it("on devices_changed, one device per chat adds a peer's new device and removes a removed one", async () => {
    const a1 = await started(await registerLiveDevice("dc_alice", { baseUrl: server.baseUrl }));
    const b1 = await started(await registerLiveDevice("dc_bob", { baseUrl: server.baseUrl }));
    const { chatId } = await a1.mls.startDirectChat(b1.account.cyphrId);
    await b1.until(joined(chatId));

    // Alice's device (leaf 0, the one that acts here) is offline while Bob links a tablet that uploads key packages.
    await a1.live.close();
    const b2 = await linkLiveDevice("dc_bob_tablet", b1, { baseUrl: server.baseUrl });
    await b2.mls.ensureKeyPackages(3);
    await b1.until((ev) => ev.some((e) => e.kind === "devices_changed"));
    expect(b1.events.find((e) => e.kind === "devices_changed")).toMatchObject({ cyphrId: b1.account.cyphrId, updatedChats: [] });

    // Back online, Alice's device replays devices_changed and adds the tablet; the tablet joins from its Welcome.
    const a1again = await started(liveDevice("dc_alice_again", a1.account, a1.store, { baseUrl: server.baseUrl }));
    await a1again.until((ev) => ev.some((e) => e.kind === "devices_changed" && e.updatedChats.length > 0));
    expect(a1again.events.filter((e) => e.kind === "devices_changed" && e.updatedChats.length > 0)).toMatchObject([
      { cyphrId: b1.account.cyphrId, updatedChats: [{ chatId, added: [2], removed: [] }] },
    ]);
    await started(b2);
    await b2.until(joined(chatId));
    const hello = unique("hello both of bob's devices");
    await a1again.mls.send(chatId, hello);
    for (const d of [b1, b2]) await d.until(() => d.texts(chatId).includes(hello));

    // Bob removes the tablet: Alice's device removes its leaf; the tablet's stream ends, and it reads nothing more.
    await b1.account.removeDevice(2);
    await a1again.until((ev) => ev.some((e) => e.kind === "devices_changed" && e.updatedChats.some((u) => u.removed.includes(2))));
    await b2.until(() => b2.live.state.state === "closed");
    expect(b2.live.state).toMatchObject({ state: "closed", error: { code: "unauthenticated" } });
    expect(await a1again.mls.leavesOf(chatId, b1.account.cyphrId)).toHaveLength(1);
    const after = unique("only bob's phone");
    await a1again.mls.send(chatId, after);
    await b1.until(() => b1.texts(chatId).includes(after));
    expect(b2.texts(chatId)).toEqual([hello]);
    expect(errorsOf(a1again.events)).toEqual([]);
    expect(errorsOf(b1.events)).toEqual([]);
  }, 120_000);

  it("passes edits and deletes on, decrypted, and drops a deleted message's plaintext", async () => {
    const alice = await started(await registerLiveDevice("ed_alice", { baseUrl: server.baseUrl }));
    const bob = await started(await registerLiveDevice("ed_bob", { baseUrl: server.baseUrl }));
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.until(joined(chatId));
    const { messageId } = await alice.mls.send(chatId, unique("frist"));
    await bob.until(() => bob.texts(chatId).length === 1);
    const fixed = unique("first");
    await alice.mls.edit(chatId, messageId, fixed);
    await bob.until((ev) => ev.some((e) => e.kind === "edited" && e.messageId === messageId));
    expect(bob.events.find((e) => e.kind === "edited")).toMatchObject({
      chatId,
      messageId,
      text: fixed,
      own: false,
      sender: { cyphrId: alice.account.cyphrId },
    });
    await alice.mls.delete(chatId, messageId);
    await bob.until((ev) => ev.some((e) => e.kind === "deleted" && e.messageId === messageId));
    expect((await bob.mls.history(chatId)).map((m) => (m.readable ? m.text : m.reason))).toEqual(["deleted"]);
    expect(errorsOf(bob.events)).toEqual([]);
  }, 120_000);

  it("a device that was never welcomed gets its chat's messages as unreadable, joins by external commit once caught up, and reads from then on", async () => {
    const alice = await started(await registerLiveDevice("nw_alice", { baseUrl: server.baseUrl }));
    const bob = await registerLiveDevice("nw_bob", { baseUrl: server.baseUrl });
    // Bob has no key packages yet: Alice's chat starts without his device.
    const { chatId, welcomed } = await alice.mls.startDirectChat(bob.account.cyphrId);
    expect(welcomed).toEqual([]);
    const early = unique("before bob's device is in the group");
    await alice.mls.send(chatId, early);
    await started(bob);
    expect(bob.events.filter((e) => e.kind === "unreadable").map((e) => e.kind === "unreadable" && [e.chatId, e.reason, e.sender.cyphrId])).toEqual([
      [chatId, "no_state", alice.account.cyphrId],
    ]);
    expect(joined(chatId)(bob.events)).toBe(true);
    const later = unique("now bob reads along");
    await alice.mls.send(chatId, later);
    await bob.until(() => bob.texts(chatId).includes(later));
    expect((await bob.mls.history(chatId)).map((m) => (m.readable ? m.text : m.reason))).toEqual(["before_join", later]);
    expect(errorsOf(bob.events)).toEqual([]);
  }, 120_000);

  it("resumes from a stored cursor the server does not know (beyond its newest) with resync_required, then takes the new events", async () => {
    const alice = await started(await registerLiveDevice("rs_alice", { baseUrl: server.baseUrl }));
    const bob = await started(await registerLiveDevice("rs_bob", { baseUrl: server.baseUrl }));
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.until(joined(chatId));
    await bob.live.close();
    await saveCursor(bob.store, 10n ** 12n); // e.g. a profile restored against a server rebuilt from scratch
    const again = await started(liveDevice("rs_bob_again", bob.account, bob.store, { baseUrl: server.baseUrl }));
    const caughtUp = again.events.find((e) => e.kind === "state" && e.state === "caught_up");
    expect(caughtUp?.kind === "state" && caughtUp.state === "caught_up" && [caughtUp.resyncRequired, caughtUp.cursor < 10n ** 12n]).toEqual([true, true]);
    const text = unique("after the resync");
    await alice.mls.send(chatId, text);
    await again.until(() => again.texts(chatId).includes(text));
    await again.live.close();
    expect(await loadCursor(bob.store)).toBe(again.live.cursor);
    expect(again.live.cursor! < 10n ** 12n).toBe(true);
  }, 120_000);

  it("a closed Live cannot start again, and the database holds none of the plaintexts", async () => {
    const d = await registerLiveDevice("closed_one", { baseUrl: server.baseUrl });
    await d.live.close();
    expect((await caught(d.live.start())).code).toBe("failed_precondition");
    expect(d.live).toBeInstanceOf(Live);
    const hits = await findAllEverywhere(
      server.databaseUrl,
      fleet.plaintexts.map((p) => new TextEncoder().encode(p)),
    );
    expect(hits).toEqual([]);
  }, 120_000);
});
