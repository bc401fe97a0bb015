import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { errorsOf, joined, type LiveDevice, linkLiveDevice, registerLiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
const plaintexts: string[] = [];
const started: LiveDevice[] = [];
const LINKS = { DEVICE_LINK_BEGIN_PER_MINUTE: "6000", DEVICE_LINK_BEGIN_BURST: "1000", DEVICE_LINKS_PENDING_PER_SOURCE: "100" };

beforeAll(async () => {
  server = await startTestServer({ env: LINKS });
});

afterAll(async () => {
  for (const d of started) await d.live.close();
  await server?.close();
});

function unique(text: string): string {
  const t = `${text} ${randomUUID().slice(0, 8)}`;
  plaintexts.push(t);
  return t;
}

async function start(...devices: LiveDevice[]): Promise<void> {
  for (const d of devices) {
    started.push(d);
    await d.live.start();
  }
}

const spec = () => ({ baseUrl: server.baseUrl });

describe("SDK realtime: live, decrypted events", () => {
  it("delivers a direct chat and a group live to every device that should read them (Alice 2 devices, Bob 1), and to no one else", async () => {
    const a1 = await registerLiveDevice("alice", spec());
    const b1 = await registerLiveDevice("bob", spec());
    const a2 = await linkLiveDevice("alice-2", a1, spec());
    await start(a1, b1, a2);
    expect(a1.live.state).toMatchObject({ state: "caught_up" });

    // Direct chat: Bob's device and Alice's second device join from their Welcomes, live.
    const { chatId: direct } = await a1.mls.startDirectChat(b1.account.cyphrId);
    await b1.until(joined(direct));
    await a2.until(joined(direct));
    const [m1, m2, m3] = [unique("hello bob"), unique("hi alice"), unique("alice from her laptop")];
    await a1.mls.send(direct, m1);
    await b1.until((ev) => ev.some((e) => e.kind === "message" && e.text === m1));
    await b1.mls.send(direct, m2);
    await a2.until((ev) => ev.some((e) => e.kind === "message" && e.text === m2));
    await a2.mls.send(direct, m3);
    for (const d of [a1, a2, b1]) await d.until(() => d.texts(direct).length === 3);
    for (const d of [a1, a2, b1]) expect(d.texts(direct)).toEqual([m1, m2, m3]);
    const onBob = b1.events.filter((e) => e.kind === "message" && e.chatId === direct);
    // The sending device comes from its MLS credential: Alice's phone is device 1, her laptop device 2.
    expect(onBob.map((e) => e.kind === "message" && [e.sender.cyphrId, e.sender.deviceId, e.own])).toEqual([
      [a1.account.cyphrId, 1, false],
      [b1.account.cyphrId, undefined, true],
      [a1.account.cyphrId, 2, false],
    ]);
    const first = onBob[0]!;
    expect(first.kind === "message" && [first.seq > 0n, first.clientMessageId.length, first.sentAt.getTime() > 0]).toEqual([true, 36, true]);

    // A group of Alice and Bob; Bob removed, then a secret he must not read.
    const { chatId: group } = await a1.mls.createGroup([b1.account.cyphrId]);
    await b1.until(joined(group));
    await a2.until(joined(group));
    const g1 = unique("group hello");
    await b1.mls.send(group, g1);
    for (const d of [a1, a2]) await d.until(() => d.texts(group).includes(g1));
    await a2.mls.removeMembers(group, [b1.account.cyphrId]);
    await b1.until((ev) => ev.some((e) => e.kind === "chat" && e.chatId === group && e.change === "members" && e.member?.action === "removed"));
    const secret = unique("bob must not read this");
    await a1.mls.send(group, secret);
    await a2.until(() => a2.texts(group).includes(secret));
    const afterSecret = unique("direct after the secret");
    await a1.mls.send(direct, afterSecret);
    await b1.until(() => b1.texts(direct).includes(afterSecret));
    expect(b1.texts(group)).toEqual([g1]);
    expect(b1.events.some((e) => "chatId" in e && e.chatId === group && (e.kind === "message" || e.kind === "unreadable") && e.seq > 3n && !e.own)).toBe(false);

    // A device linked after all this: the old messages are not readable to it, the new ones are.
    await a1.until((ev) => ev.filter((e) => e.kind === "devices_changed").length >= 1);
    const changesBefore = a1.events.filter((e) => e.kind === "devices_changed").length;
    const a3 = await linkLiveDevice("alice-3", a1, spec());
    await a1.until((ev) => ev.filter((e) => e.kind === "devices_changed").length > changesBefore);
    await start(a3);
    await a3.until((ev) => joined(direct)(ev) && joined(group)(ev));
    // A new session starts at the account's newest cursor: the old messages are not replayed to it.
    expect(a3.events.filter((e) => (e.kind === "message" || e.kind === "unreadable") && e.chatId === direct)).toEqual([]);
    const late = unique("for all of alice's devices");
    await b1.mls.send(direct, late);
    for (const d of [a1, a2, a3]) await d.until(() => d.texts(direct).includes(late));
    expect(a3.texts(direct)).toEqual([late]);
    const history = await a3.mls.history(direct);
    expect(history.map((m) => (m.readable ? m.text : m.reason))).toEqual(["before_join", "before_join", "before_join", "before_join", late]);

    for (const d of [a1, a2, b1, a3]) expect(errorsOf(d.events)).toEqual([]);
  }, 120_000);

  it("keeps the database free of every plaintext the tests sent", async () => {
    expect(plaintexts.length).toBeGreaterThan(5);
    const hits = await findAllEverywhere(
      server.databaseUrl,
      plaintexts.map((p) => new TextEncoder().encode(p)),
    );
    expect(hits).toEqual([]);
  }, 120_000);
});
