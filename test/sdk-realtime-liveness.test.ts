import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Account, MemoryStore } from "../src/sdk/index.js";
import { nodeTransport } from "../src/sdk/node/transport.js";
import { errorsOf, type LiveDevice, liveDevice, registerLiveDevice } from "./helpers/sdk-live.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { startTcpProxy, type TcpProxy } from "./helpers/tcp-proxy.js";
import { uniqueCyphrId } from "./helpers/users.js";

let server: TestServer;
let proxy: TcpProxy;
const devices: LiveDevice[] = [];
// The server's heartbeat every 300 ms; it ends a Connect stream whose client is silent for 900 ms.
const HEARTBEAT_MS = 300;

beforeAll(async () => {
  server = await startTestServer({ env: { HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS), ACCESS_TOKEN_TTL_SECONDS: "30" } });
  proxy = await startTcpProxy(server.port);
});

afterAll(async () => {
  for (const d of devices) await d.live.close();
  await proxy?.close();
  await server?.close();
});

const states = (d: LiveDevice) => d.events.flatMap((e) => (e.kind === "state" ? [e] : []));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SDK realtime: heartbeats, dead connections, tokens", () => {
  it("sends heartbeats that keep a quiet stream open, and reconnects when the server goes silent on a connection that stays open", async () => {
    const alice = await registerLiveDevice("hb_alice", { baseUrl: server.baseUrl });
    const bob = await registerLiveDevice("hb_bob", {
      baseUrl: server.baseUrl,
      viaUrl: proxy.url,
      ping: { pingIntervalMs: 500, pingTimeoutMs: 2000 },
      tuning: { heartbeatIntervalMs: 200, deadAfterMs: 1000, reconnect: { baseDelayMs: 10, maxDelayMs: 50 } },
    });
    devices.push(alice, bob);
    await alice.live.start();
    await bob.live.start();
    const { chatId } = await alice.mls.startDirectChat(bob.account.cyphrId);
    await bob.until((ev) => ev.some((e) => e.kind === "chat" && e.change === "joined"));

    // Ten server intervals without a message (acks stop once all is acked): Bob's heartbeats keep the stream.
    await sleep(10 * HEARTBEAT_MS);
    expect(states(bob).filter((s) => s.state === "reconnecting")).toEqual([]);

    // The network path dies without a close: the watchdog ends the stream, and a new connection carries on.
    proxy.freeze();
    await bob.until((ev) => ev.some((e) => e.kind === "state" && e.state === "reconnecting"), 30_000);
    const reconnecting = states(bob).find((s) => s.state === "reconnecting");
    expect(reconnecting?.state === "reconnecting" && reconnecting.error.message).toContain("No frame from the server for 1000 ms");
    const text = `after the freeze ${randomUUID().slice(0, 8)}`;
    await alice.mls.send(chatId, text);
    await bob.until(() => bob.texts(chatId).includes(text), 60_000);
    expect(bob.live.state.state).toBe("caught_up");
    expect(errorsOf(bob.events)).toEqual([]);
  }, 120_000);

  it("asks the account for a token on every reconnect, so an expired one is refreshed first", async () => {
    let offset = 0;
    const store = new MemoryStore();
    const account = await Account.register({ transport: nodeTransport(server.baseUrl), store, clock: () => Date.now() + offset }, uniqueCyphrId("tok"));
    const d = liveDevice("tok", account, store, { baseUrl: server.baseUrl, viaUrl: proxy.url, tuning: { reconnect: { baseDelayMs: 10, maxDelayMs: 50 } } });
    devices.push(d);
    await d.live.start();
    await account.accessToken();
    // The stored session (its single-use refresh token is random) tells a refresh apart; the access
    // token may not, since a token refreshed within the same second has the same claims and Ed25519
    // signatures are deterministic.
    const first = Buffer.from((await store.get("device/session"))!).toString("hex");
    // 25 s later by the account's clock, 5 s of its 30 s token are left: the next stream needs a new one.
    offset = 25_000;
    proxy.kill();
    await d.until((ev) => ev.filter((e) => e.kind === "state" && e.state === "caught_up").length >= 2);
    await account.accessToken();
    expect(Buffer.from((await store.get("device/session"))!).toString("hex")).not.toBe(first);
    expect(errorsOf(d.events)).toEqual([]);
  }, 120_000);
});
