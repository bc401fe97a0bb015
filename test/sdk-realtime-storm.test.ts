import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCursor } from "../src/sdk/realtime/cursor-store.js";
import { findAllEverywhere } from "./helpers/db-scan.js";
import { errorsOf, type LiveDevice, liveDevice, registerLiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy.js";

let server: TestServer;
let proxy: TcpProxy;
const devices: LiveDevice[] = [];

beforeAll(async () => {
  server = await startTestServer({ env: { SEND_RATE_PER_SECOND: "1000", SEND_BURST: "1000" } });
  proxy = await startTcpProxy(server.port);
});

afterAll(async () => {
  for (const d of devices) await d.live.close();
  await proxy?.close();
  await server?.close();
});

describe("SDK realtime: a reconnect storm", () => {
  it("delivers every message of a burst exactly once and in order while the connection is cut again and again, and stores the cursor", async () => {
    const fast = { reconnect: { baseDelayMs: 10, maxDelayMs: 100 }, ackIntervalMs: 50 };
    const alice = await registerLiveDevice("storm_a", { baseUrl: server.baseUrl });
    const bob = await registerLiveDevice("storm_b", { baseUrl: server.baseUrl, viaUrl: proxy.url, tuning: fast });
    devices.push(alice, bob);
    await alice.live.start();
    await bob.live.start();
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.until((ev) => ev.some((e) => e.kind === "chat" && e.change === "joined" && e.chatId === chatId));

    const sent: string[] = [];
    let cuts = 0;
    const killer = setInterval(() => (cuts += proxy.kill() > 0 ? 1 : 0), 120);
    try {
      for (let i = 0; i < 40; i++) {
        const text = `storm ${i} ${randomUUID().slice(0, 8)}`;
        sent.push(text);
        await alice.mls.send(chatId, text);
        await new Promise((r) => setTimeout(r, 15));
      }
      // Keep cutting while Bob catches up from wherever the cuts left him.
      await new Promise((r) => setTimeout(r, 600));
    } finally {
      clearInterval(killer);
    }
    await bob.until(() => bob.texts(chatId).length >= sent.length, 120_000);
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive by now
    expect(bob.texts(chatId)).toEqual(sent);
    const seqs = bob.events.flatMap((e) => (e.kind === "message" && e.chatId === chatId ? [e.seq] : []));
    expect(seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1n)).toBe(true); // no gap, no repeat
    const reconnects = bob.events.filter((e) => e.kind === "state" && e.state === "reconnecting").length;
    expect(cuts).toBeGreaterThanOrEqual(5);
    expect(reconnects).toBeGreaterThanOrEqual(3);
    expect(errorsOf(bob.events)).toEqual([]);

    // Closed, the cursor is in the store; a new Live over the same store replays nothing already handled.
    await bob.live.close();
    expect(bob.live.state).toEqual({ state: "closed" });
    const stored = await loadCursor(bob.store);
    expect(stored).toBe(bob.live.cursor);
    const again = liveDevice("storm-bob-again", bob.account, bob.store, { baseUrl: server.baseUrl });
    devices.push(again);
    await again.live.start();
    const last = unique();
    await alice.mls.send(chatId, last);
    await again.until(() => again.texts(chatId).length > 0);
    expect(again.texts(chatId)).toEqual([last]);
    const hits = await findAllEverywhere(
      server.databaseUrl,
      [...sent, last].map((t) => new TextEncoder().encode(t)),
    );
    expect(hits).toEqual([]);
  }, 180_000);
});

function unique(): string {
  return `after the storm ${randomUUID().slice(0, 8)}`;
}
