import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyPackagesService } from "../src/gen/cyphr/mls/v1/key_packages_pb.js";
import type { HistoryMessage } from "../src/sdk/mls/history.js";
import { MlsDevice } from "../src/sdk/mls/mls-device.js";
import { MemoryStore } from "../src/sdk/store.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { linkDevice } from "./helpers/devices.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

let server: TestServer;
const LINKS = { DEVICE_LINK_BEGIN_PER_MINUTE: "6000", DEVICE_LINK_BEGIN_BURST: "1000", DEVICE_LINKS_PENDING_PER_SOURCE: "100" };
const plaintexts: string[] = [];

beforeAll(async () => {
  server = await startTestServer({ env: LINKS });
});

afterAll(async () => {
  await server?.close();
});

/** One SDK device: an MlsDevice over a real transport, a MemoryStore, and the device's identity. */
interface TestDevice {
  user: RegisteredUser;
  store: MemoryStore;
  mls: MlsDevice;
  /** What this device's transport saw, for the tests that interfere with it. */
  seen: { method: string; message: unknown }[];
}

function sdkDevice(user: RegisteredUser, options: { store?: MemoryStore; protocol?: "connect" | "grpc"; interceptors?: Interceptor[] } = {}): TestDevice {
  const seen: TestDevice["seen"] = [];
  const record: Interceptor = (next) => (req) => {
    seen.push({ method: req.method.name, message: req.message });
    return next(req);
  };
  const interceptors = [record, ...(options.interceptors ?? [])];
  const baseUrl = server.baseUrl;
  const transport =
    options.protocol === "grpc" ? createGrpcTransport({ baseUrl, interceptors }) : createConnectTransport({ baseUrl, httpVersion: "2", interceptors });
  const store = options.store ?? new MemoryStore();
  const mls = new MlsDevice(
    transport,
    { accessToken: async () => user.accessToken },
    { cyphrId: user.cyphrId, deviceId: user.device.deviceId, signingSecretKey: user.device.deviceSecretKey },
    store,
  );
  return { user, store, mls, seen };
}

function words(history: HistoryMessage[]): (string | null)[] {
  return history.map((m) => (m.readable ? (m.text ?? null) : null));
}

function unique(text: string): string {
  const t = `${text} ${randomUUID().slice(0, 8)}`;
  plaintexts.push(t);
  return t;
}

async function twoUsersThreeDevices() {
  const alice = await registerUser(identityClient("connect", server.baseUrl));
  const bob = await registerUser(identityClient("connect", server.baseUrl));
  const a1 = sdkDevice(alice);
  const a2 = sdkDevice(await linkDevice(server.baseUrl, alice), { protocol: "grpc" });
  const b1 = sdkDevice(bob);
  for (const d of [a1, a2, b1]) await d.mls.ensureKeyPackages(3);
  return { alice, bob, a1, a2, b1 };
}

describe("the SDK's MLS engine", () => {
  it("keeps one-time key packages and a last-resort one uploaded, topping up to its target", async () => {
    const user = await registerUser(identityClient("connect", server.baseUrl));
    const d = sdkDevice(user);
    expect(await d.mls.ensureKeyPackages(4)).toBe(4);
    expect(await d.mls.ensureKeyPackages(4)).toBe(0);
    const counts = await clientFor(KeyPackagesService, "connect", server.baseUrl, { token: user.accessToken }).getKeyPackageCounts({});
    expect(counts.counts[0]).toMatchObject({ oneTime: 4, hasLastResort: true });
    expect(await d.mls.keyPackages.onKeyPackagesLow(6)).toBe(2);
    // Each package's private keys are in the device's store: 6 one-time and the last-resort one.
    expect((await d.store.keys("mls/kp/")).length).toBe(7);
  });

  it("runs a direct chat between Alice's two devices and Bob's: each reads the others' messages and its own", async () => {
    const { alice, bob, a1, a2, b1 } = await twoUsersThreeDevices();
    const started = await a1.mls.startDirectChat(bob.cyphrId);
    expect(started.welcomed.map((w) => `${w.cyphrId}#${w.deviceId}`).sort()).toEqual([`${alice.cyphrId}#2`, `${bob.cyphrId}#1`].sort());
    const chatId = started.chatId;
    await b1.mls.acceptWelcome(chatId);
    await a2.mls.acceptWelcome(chatId);
    const [m1, m2, m3] = [unique("hello bob"), unique("hi alice"), unique("alice on her laptop")];
    await a1.mls.send(chatId, m1);
    await b1.mls.send(chatId, m2);
    await a2.mls.send(chatId, m3);
    for (const d of [a1, a2, b1]) expect(words(await d.mls.history(chatId))).toEqual([m1, m2, m3]);
    const onBob = await b1.mls.history(chatId);
    expect(onBob.map((m) => [m.senderCyphrId, m.own])).toEqual([
      [alice.cyphrId, false],
      [bob.cyphrId, true],
      [alice.cyphrId, false],
    ]);
    // Bytes travel as bytes.
    await b1.mls.send(chatId, new Uint8Array([0, 1, 2, 255]));
    const last = (await a1.mls.history(chatId)).at(-1)!;
    expect(last.readable && last.contentType === "bytes" && [...last.bytes]).toEqual([0, 1, 2, 255]);
    // History pages: at most `limit` messages after `afterSeq`.
    const firstTwo = await a1.mls.history(chatId, { limit: 2 });
    expect(words(firstTwo)).toEqual([m1, m2]);
    expect(words(await a1.mls.history(chatId, { afterSeq: firstTwo[1]!.seq, limit: 2 }))).toEqual([m3, null]);
    // A refusal of the server comes as a CyphrError with its code and message.
    await expect(a1.mls.startDirectChat(alice.cyphrId)).rejects.toMatchObject({
      name: "CyphrError",
      code: "invalid_argument",
      message: expect.stringContaining("is your own"),
    });
  });

  it("creates a group, adds and removes members with one call each; a removed member reads nothing after its removal", async () => {
    const { bob, a1, a2, b1 } = await twoUsersThreeDevices();
    const { chatId } = await a1.mls.createGroup([]);
    await a2.mls.acceptWelcome(chatId);
    const onlyAlice = unique("only alice's devices");
    await a1.mls.send(chatId, onlyAlice);
    // Bob is not in the group: the server does not show it to him, and he has no state for it.
    await expect(b1.mls.history(chatId)).rejects.toMatchObject({ name: "CyphrError", code: "failed_precondition" });
    const added = await a1.mls.addMembers(chatId, [bob.cyphrId]);
    expect(added.welcomed).toEqual([{ cyphrId: bob.cyphrId, deviceId: 1 }]);
    await b1.mls.acceptWelcome(chatId);
    const forAll = unique("welcome bob");
    await a2.mls.send(chatId, forAll);
    expect(words(await b1.mls.history(chatId))).toEqual([forAll]);
    expect(words(await a1.mls.history(chatId))).toEqual([onlyAlice, forAll]);

    // Alice's second device commits as the admin her account is.
    expect(await a2.mls.removeMembers(chatId, [bob.cyphrId])).toMatchObject({ epoch: 3n });
    const secret = unique("bob must not read this");
    await a1.mls.send(chatId, secret);
    expect(words(await a2.mls.history(chatId))).toEqual([onlyAlice, forAll, secret]);
    const bobSees = await b1.mls.history(chatId);
    expect(words(bobSees)).toEqual([forAll]);
    expect(bobSees.map((m) => m.messageId)).not.toContain((await a1.mls.history(chatId)).at(-1)!.messageId);
    await expect(b1.mls.send(chatId, "still here?")).rejects.toMatchObject({
      name: "CyphrError",
      code: "permission_denied",
      message: expect.stringContaining("removed from chat"),
    });
    // Added again, Bob joins from the new Welcome (the old one is never replayed) and reads from then on.
    await a1.mls.addMembers(chatId, [bob.cyphrId]);
    await b1.mls.acceptWelcome(chatId);
    await b1.mls.acceptWelcome(chatId);
    const back = unique("welcome back bob");
    await a2.mls.send(chatId, back);
    // The server shows a re-added member the chat from the new addition on.
    expect(words(await b1.mls.history(chatId))).toEqual([back]);
    expect(await b1.mls.epoch(chatId)).toBe(await a1.mls.epoch(chatId));
  });

  it("continues every chat on a device restarted from its store", async () => {
    const { bob, a1, a2, b1 } = await twoUsersThreeDevices();
    const { chatId } = await a1.mls.startDirectChat(bob.cyphrId);
    await b1.mls.acceptWelcome(chatId);
    await a2.mls.acceptWelcome(chatId);
    const before = unique("before the restart");
    await b1.mls.send(chatId, before);
    await a1.mls.history(chatId);
    // A new object over the same store: same chats, same history (its own message included), and it goes on.
    const restarted = sdkDevice(b1.user, { store: b1.store });
    expect(await restarted.mls.chatIds()).toEqual([chatId]);
    expect(words(await restarted.mls.history(chatId))).toEqual([before]);
    const fromAlice = unique("after bob's restart");
    await a1.mls.send(chatId, fromAlice);
    const after = unique("bob again");
    await restarted.mls.send(chatId, after);
    await a1.mls.updateKeys(chatId);
    const third = unique("after a commit");
    await a2.mls.send(chatId, third);
    expect(words(await restarted.mls.history(chatId))).toEqual([before, fromAlice, after, third]);
    expect(words(await a1.mls.history(chatId))).toEqual([before, fromAlice, after, third]);
    expect(await restarted.mls.epoch(chatId)).toBe(await a1.mls.epoch(chatId));
  });

  it("retries a commit that lost a race: it processes the winner's commit first, then commits on top of it", async () => {
    const { bob, a1, a2, b1 } = await twoUsersThreeDevices();
    const { chatId } = await a1.mls.startDirectChat(bob.cyphrId);
    await a2.mls.acceptWelcome(chatId);
    // Bob's first commit is held until Alice's has gone through: it is then for a stale epoch.
    let aliceCommitted!: () => void;
    const gate = new Promise<void>((resolve) => (aliceCommitted = resolve));
    let held = 0;
    const hold: Interceptor = (next) => async (req) => {
      if (req.method.name === "CommitMlsChat" && held++ === 0) await gate;
      return next(req);
    };
    const bob1 = sdkDevice(b1.user, { store: b1.store, interceptors: [hold] });
    await bob1.mls.acceptWelcome(chatId);
    const bobCommit = bob1.mls.updateKeys(chatId);
    while (held === 0) await new Promise((r) => setImmediate(r));
    const alices = await a1.mls.updateKeys(chatId);
    aliceCommitted();
    const bobs = await bobCommit;
    expect(alices.epoch).toBe(2n);
    expect(bobs.epoch).toBe(3n);
    expect(bob1.seen.filter((s) => s.method === "CommitMlsChat")).toHaveLength(2);
    const text = unique("after the race");
    await a2.mls.send(chatId, text);
    for (const d of [a1, bob1]) expect(words(await d.mls.history(chatId))).toEqual([text]);
    expect(await a2.mls.epoch(chatId)).toBe(3n);
  });

  it("resends a message whose answer was lost with the same client_message_id: it is stored once", async () => {
    const { bob, a1, b1 } = await twoUsersThreeDevices();
    const { chatId } = await a1.mls.startDirectChat(bob.cyphrId);
    let dropped = 0;
    const dropFirstAnswer: Interceptor = (next) => async (req) => {
      const res = await next(req);
      if (req.method.name === "SendMessage" && dropped++ === 0) throw new ConnectError("connection lost", Code.Unavailable);
      return res;
    };
    const flaky = sdkDevice(b1.user, { store: b1.store, interceptors: [dropFirstAnswer] });
    await flaky.mls.acceptWelcome(chatId);
    const text = unique("sent once");
    await flaky.mls.send(chatId, text);
    const sends = flaky.seen.filter((s) => s.method === "SendMessage").map((s) => (s.message as { clientMessageId: string }).clientMessageId);
    expect(sends).toHaveLength(2);
    expect(sends[0]).toBe(sends[1]);
    expect(words(await a1.mls.history(chatId))).toEqual([text]);
    expect(words(await flaky.mls.history(chatId))).toEqual([text]);
  });

  it("joins an own chat from a new device by external commit; history marks what came before as unreadable", async () => {
    const { alice, bob, a1, b1 } = await twoUsersThreeDevices();
    const { chatId } = await a1.mls.startDirectChat(bob.cyphrId);
    await b1.mls.acceptWelcome(chatId);
    const old = unique("before the tablet");
    await b1.mls.send(chatId, old);
    const tablet = sdkDevice(await linkDevice(server.baseUrl, alice));
    await expect(tablet.mls.acceptWelcome(chatId)).rejects.toMatchObject({ name: "CyphrError", code: "not_found" });
    const joined = await tablet.mls.joinOwnChat(chatId);
    expect(joined.epoch).toBe(2n);
    const fresh = unique("hello tablet");
    await b1.mls.send(chatId, fresh);
    const seen = await tablet.mls.history(chatId);
    expect(seen.map((m) => (m.readable ? m.text : m.reason))).toEqual(["before_join", fresh]);
    expect(words(await a1.mls.history(chatId))).toEqual([old, fresh]);
  });

  it("edits and deletes: the others read the replacement, and a deleted message is marked deleted", async () => {
    const { bob, a1, a2, b1 } = await twoUsersThreeDevices();
    const { chatId } = await a1.mls.startDirectChat(bob.cyphrId);
    await b1.mls.acceptWelcome(chatId);
    await a2.mls.acceptWelcome(chatId);
    const typo = unique("typo hree");
    const sent = await a1.mls.send(chatId, typo);
    expect(words(await b1.mls.history(chatId))).toEqual([typo]);
    const fixed = unique("typo here");
    await a1.mls.edit(chatId, sent.messageId, fixed);
    for (const d of [a1, a2, b1]) {
      const [m] = await d.mls.history(chatId);
      expect(m!.readable && [m!.text, m!.edited]).toEqual([fixed, true]);
    }
    await a1.mls.delete(chatId, sent.messageId);
    for (const d of [a1, b1]) expect((await d.mls.history(chatId)).map((m) => !m.readable && m.reason)).toEqual(["deleted"]);
  });

  it("leaves no plaintext in the database", async () => {
    expect(plaintexts.length).toBeGreaterThan(10);
    expect(
      await findAllEverywhere(
        server.databaseUrl,
        plaintexts.map((p) => new TextEncoder().encode(p)),
      ),
    ).toEqual([]);
  }, 120_000);
});
