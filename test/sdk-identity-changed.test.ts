import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore, newRecoveryPhrase, PeerIdentities, recoverAccount, safetyNumber, type LiveEvent } from "../src/sdk/index.js";
import { nodeTransport } from "../src/sdk/node/transport.js";
import { errorsOf, liveDevice, registerLiveDevice, type LiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
const devices: LiveDevice[] = [];

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  for (const d of devices) await d.live.close();
  await server?.close();
});

async function started(d: LiveDevice): Promise<LiveDevice> {
  devices.push(d);
  await d.live.start();
  return d;
}

const joined = (chatId: string) => (events: LiveEvent[]) => events.some((e) => e.kind === "chat" && e.change === "joined" && e.chatId === chatId);

describe("SDK: a chat peer's identity change (identity_changed)", () => {
  it("is a typed event with the new key and safety number, stored as the device's view of the peer, and the shared chat follows the new device", async () => {
    const alice = await started(await registerLiveDevice("idc_alice", { baseUrl: server.baseUrl }));
    const bob = await started(await registerLiveDevice("idc_bob", { baseUrl: server.baseUrl }));
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.until(joined(chatId));
    const hi = `hi ${randomUUID()}`;
    await bob.mls.send(chatId, hi);
    await alice.until(() => alice.texts(chatId).includes(hi));
    const before = safetyNumber({ cyphrId: alice.account.cyphrId, identityKey: alice.account.identityPublicKey }, { cyphrId: bob.account.cyphrId, identityKey: bob.account.identityPublicKey });

    // Bob loses his only device and recovers the account with his recovery phrase: a new identity key, device 2.
    const phrase = newRecoveryPhrase();
    await bob.account.lifecycle().setRecoveryPhrase(phrase);
    await bob.live.close();
    const store = new MemoryStore();
    const recovered = await recoverAccount({ transport: nodeTransport(server.baseUrl), store }, bob.account.cyphrId, phrase);
    await alice.until((ev) => ev.some((e) => e.kind === "identity_changed"));

    const after = safetyNumber({ cyphrId: alice.account.cyphrId, identityKey: alice.account.identityPublicKey }, { cyphrId: bob.account.cyphrId, identityKey: recovered.identityPublicKey });
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
});
