import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore, newRecoveryPhrase, PeerIdentities, recoverAccount, safetyNumber } from "../src/sdk/index.js";
import { nodeTransport } from "../src/sdk/node/transport.js";
import { saveCursor } from "../src/sdk/realtime/cursor-store.js";
import { identityChanged } from "../src/sdk/realtime/identity-change.js";
import { errorsOf, joined, type LiveDevice, LiveFleet, liveDevice, registerLiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
const fleet = new LiveFleet();

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await fleet.closeAll();
  await server?.close();
});

const started = (d: LiveDevice) => fleet.started(d);

describe("SDK: a chat peer's identity change (identity_changed)", () => {
  it("is a typed event with the new key and safety number, stored as the device's view of the peer, and the shared chat follows the new device", async () => {
    const alice = await started(await registerLiveDevice("idc_alice", { baseUrl: server.baseUrl }));
    const bob = await started(await registerLiveDevice("idc_bob", { baseUrl: server.baseUrl }));
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.until(joined(chatId));
    const hi = `hi ${randomUUID()}`;
    await bob.mls.send(chatId, hi);
    await alice.until(() => alice.texts(chatId).includes(hi));
    const before = safetyNumber(
      { cyphrId: alice.account.cyphrId, identityKey: alice.account.identityPublicKey },
      { cyphrId: bob.account.cyphrId, identityKey: bob.account.identityPublicKey },
    );

    // Bob loses his only device and recovers the account with his recovery phrase: a new identity key, device 2.
    const phrase = newRecoveryPhrase();
    await bob.account.lifecycle().setRecoveryPhrase(phrase);
    await bob.live.close();
    const store = new MemoryStore();
    const recovered = await recoverAccount({ transport: nodeTransport(server.baseUrl), store }, bob.account.cyphrId, phrase);
    await alice.until((ev) => ev.some((e) => e.kind === "identity_changed"));

    const after = safetyNumber(
      { cyphrId: alice.account.cyphrId, identityKey: alice.account.identityPublicKey },
      { cyphrId: bob.account.cyphrId, identityKey: recovered.identityPublicKey },
    );
    expect(after).not.toBe(before);
    const event = alice.events.find((e) => e.kind === "identity_changed");
    expect(event).toEqual({
      kind: "identity_changed",
      userId: bob.account.userId,
      cyphrId: bob.account.cyphrId,
      identityKey: recovered.identityPublicKey,
      safetyNumber: after,
      chatIds: [chatId],
      // Alice's device removed Bob's lost device; device 2 had no key package yet, it joins by itself.
      updatedChats: [{ chatId, added: [], removed: [1] }],
    });
    const peer = await new PeerIdentities(alice.store).get(bob.account.cyphrId);
    expect(peer).toMatchObject({ userId: bob.account.userId, identityKey: recovered.identityPublicKey, safetyNumber: after });
    const lastSeq = (await alice.mls.history(chatId)).at(-1)!.seq;
    expect(await new PeerIdentities(alice.store).noticesIn(chatId)).toMatchObject([{ cyphrId: bob.account.cyphrId, safetyNumber: after, afterSeq: lastSeq }]);

    // Bob's new device joins the chat (external commit) and reads what Alice sends next; his old leaf is gone.
    const bob2 = await started(liveDevice("idc_bob_recovered", recovered, store, { baseUrl: server.baseUrl }));
    await bob2.until(joined(chatId));
    const welcomeBack = `welcome back ${randomUUID()}`;
    await alice.mls.send(chatId, welcomeBack);
    await bob2.until(() => bob2.texts(chatId).includes(welcomeBack));
    expect(await alice.mls.leavesOf(chatId, bob.account.cyphrId)).toHaveLength(1);
    expect(errorsOf(alice.events)).toEqual([]);
    // The recovered device itself is not told about its own account's change.
    expect(bob2.events.some((e) => e.kind === "identity_changed")).toBe(false);
  }, 120_000);

  it("a replayed or caught-up identity_changed that a later recovery superseded is history, not an error; a key no change explains is data_loss", async () => {
    const alice = await started(await registerLiveDevice("idr_alice", { baseUrl: server.baseUrl }));
    const carol = await started(await registerLiveDevice("idr_carol", { baseUrl: server.baseUrl }));
    const bob = await started(await registerLiveDevice("idr_bob", { baseUrl: server.baseUrl }));
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    const { chatId: carolChat } = await carol.mls.startDirectChat(bob.account.cyphrId);
    await bob.until(joined(chatId));
    await bob.until(joined(carolChat));
    // Carol's device is offline through both recoveries.
    await carol.live.close();
    const numberWith = (who: LiveDevice, key: Uint8Array) =>
      safetyNumber({ cyphrId: who.account.cyphrId, identityKey: who.account.identityPublicKey }, { cyphrId: bob.account.cyphrId, identityKey: key });

    // Bob recovers twice: identity keys one and two. Alice's device handles each change as it happens.
    const first = newRecoveryPhrase();
    await bob.account.lifecycle().setRecoveryPhrase(first);
    await bob.live.close();
    const one = await recoverAccount({ transport: nodeTransport(server.baseUrl), store: new MemoryStore() }, bob.account.cyphrId, first);
    await alice.until((ev) => ev.filter((e) => e.kind === "identity_changed").length === 1);
    const second = newRecoveryPhrase();
    await one.lifecycle().setRecoveryPhrase(second);
    const two = await recoverAccount({ transport: nodeTransport(server.baseUrl), store: new MemoryStore() }, bob.account.cyphrId, second);
    await alice.until((ev) => ev.filter((e) => e.kind === "identity_changed").length === 2);
    const history = [numberWith(alice, one.identityPublicKey), numberWith(alice, two.identityPublicKey)];
    const aliceView = async () => (await new PeerIdentities(alice.store).get(bob.account.cyphrId))!;
    expect((await aliceView()).changes.map((c) => c.safetyNumber)).toEqual(history);

    // Alice's device resumes from cursor 0: both events come again; nothing is stored twice, no error.
    await alice.live.close();
    await saveCursor(alice.store, 0n);
    const aliceAgain = await started(liveDevice("idr_alice_again", alice.account, alice.store, { baseUrl: server.baseUrl }));
    await aliceAgain.until((ev) => ev.some((e) => e.kind === "state" && e.state === "caught_up"));
    await aliceAgain.until((ev) => ev.some((e) => e.kind === "identity_changed"));
    expect(errorsOf(aliceAgain.events)).toEqual([]);
    expect(aliceAgain.events.filter((e) => e.kind === "identity_changed").map((e) => e.kind === "identity_changed" && e.safetyNumber)).toEqual([history[1]]);
    expect(await aliceView()).toMatchObject({ identityKey: two.identityPublicKey, safetyNumber: history[1] });
    expect((await aliceView()).changes.map((c) => c.safetyNumber)).toEqual(history);

    // Carol's device catches up: the first event's key is no longer the server's, but every device it
    // lists came after the event: history, then the second change is the current one.
    const carolBack = await started(liveDevice("idr_carol_back", carol.account, carol.store, { baseUrl: server.baseUrl }));
    await carolBack.until((ev) => ev.some((e) => e.kind === "identity_changed"));
    await carolBack.until((ev) => ev.some((e) => e.kind === "state" && e.state === "caught_up"));
    expect(errorsOf(carolBack.events)).toEqual([]);
    const carolView = (await new PeerIdentities(carol.store).get(bob.account.cyphrId))!;
    expect(carolView).toMatchObject({ identityKey: two.identityPublicKey, safetyNumber: numberWith(carol, two.identityPublicKey) });
    expect(carolView.changes.map((c) => c.safetyNumber)).toEqual([numberWith(carol, one.identityPublicKey), numberWith(carol, two.identityPublicKey)]);
    expect(carolBack.events.filter((e) => e.kind === "identity_changed").map((e) => e.kind === "identity_changed" && e.safetyNumber)).toEqual([
      numberWith(carol, two.identityPublicKey),
    ]);

    // An event naming a key the server does not have, newer than the server's devices: no later change explains it.
    const forged = { userId: bob.account.userId, cyphrId: bob.account.cyphrId, identityKey: new Uint8Array(randomBytes(32)) };
    const deps = { account: alice.account, mls: alice.mls, peers: new PeerIdentities(alice.store), emit: async () => {}, report: async () => {} };
    await expect(identityChanged(deps, forged, new Date())).rejects.toMatchObject({ code: "data_loss" });
    expect((await aliceView()).changes.map((c) => c.safetyNumber)).toEqual(history);
  }, 180_000);
});
