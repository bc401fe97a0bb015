import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeName } from "./helpers/inbox.js";
import { participants, randomPayload, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, eventually, grpcJsConnect, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { expectAnotherClientAnswered, heapAfterGc, stalledSubscribe } from "./helpers/stalled-stream.js";

/**
 * One client must never exhaust the server through its streams: buffers are bounded in
 * bytes as well as frames (counting what the transport holds), one user holds a bounded
 * number of live streams, and replays for clients that do not read, or that went away,
 * hold neither memory nor the database pool.
 */

const KIB = 1024;
const MIB = 1024 * KIB;
const BUFFER_BYTES = 256 * KIB;
const UNLIMITED_SENDS = { SEND_RATE_PER_SECOND: "1000000", SEND_BURST: "1000000" };

describe("byte budgets (STREAM_BUFFER_BYTES) with an unbounded frame count", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { ...UNLIMITED_SENDS, STREAM_BUFFER_FRAMES: "1000000", STREAM_BUFFER_BYTES: String(BUFFER_BYTES), STREAM_MAX_PER_USER: "100" },
    });
  });
  afterAll(async () => {
    await closeAllStreams();
    await server.close();
  });

  it("a live stream whose client never opens its window is reset (ENHANCE_YOUR_CALM) once it is STREAM_BUFFER_BYTES behind", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const stalled = stalledSubscribe(server.baseUrl, bob.accessToken, 0n);
    await eventually(() => server.app.realtime.hub.count(bob.userId) === 1, 5000, "bob's stream to open");

    const payloadBytes = 8 * KIB;
    let sent = 0;
    // Without a byte budget the stream would take all 400 (1,000,000 frames allowed).
    while (server.app.realtime.hub.count(bob.userId) > 0 && sent < 400) {
      await sendTo(alice, bob, randomPayload(payloadBytes));
      sent++;
    }
    // The stream stopped taking events once it was a budget behind ...
    expect(sent * payloadBytes).toBeLessThan(2 * BUFFER_BYTES);
    expect(sent * payloadBytes).toBeGreaterThan(BUFFER_BYTES / 2);
    // ... and the call is reset, since its client would never read the final status.
    expect(await stalled.closed).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  });

  it("stalled replays of a 12 MB backlog hold at most their budget each, release it when their clients leave, and never starve another client", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    const messageBytes = 60 * KIB;
    const backlog = 200;
    for (let i = 0; i < backlog; i++) await sendTo(alice, bob, randomPayload(messageBytes));

    const before = await heapAfterGc();
    const streams = Array.from({ length: 20 }, () => stalledSubscribe(server.baseUrl, bob.accessToken, 0n));
    await eventually(() => server.app.realtime.hub.count(bob.userId) === streams.length, 10_000, "every stalled stream to open");
    // Let every replay load all it is allowed to.
    await eventually(() => server.app.realtime.replaySlots.running === 0 && server.app.realtime.replaySlots.queued === 0, 10_000, "replays to settle");

    // Another client is answered while the stalled replays hold their slots.
    await expectAnotherClientAnswered(server.baseUrl, alice, carol);

    // Each stalled stream: its byte budget plus one replay chunk (16 messages) at most.
    // Unbounded, each would hold the whole 12 MB backlog (240 MB for 20).
    const held = (await heapAfterGc()) - before;
    const perStreamBound = BUFFER_BYTES + 16 * (messageBytes + 1 * KIB);
    expect(held).toBeLessThan(streams.length * perStreamBound + 16 * MIB);
    expect(streams.some((s) => s.isClosed())).toBe(false);

    for (const s of streams) s.leave();
    await Promise.all(streams.map((s) => s.closed));
    await eventually(() => server.app.realtime.hub.count(bob.userId) === 0, 5000, "the streams to leave the hub");
    await eventually(() => server.app.realtime.replaySlots.running === 0 && server.app.realtime.replaySlots.queued === 0, 5000, "no replay work left");
    expect((await heapAfterGc()) - before).toBeLessThan(16 * MIB);
  });
});

describe("live streams per user (STREAM_MAX_PER_USER)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { STREAM_MAX_PER_USER: "3" } });
  });
  afterAll(async () => {
    await closeAllStreams();
    await server.close();
  });

  it("a user's stream beyond the cap ends with RESOURCE_EXHAUSTED naming the cap; other users are unaffected; a closed stream frees its place", async () => {
    const [bob, carol] = await participants(server.baseUrl, 2);
    const open = [
      subscribe(server.baseUrl, bob.accessToken),
      grpcJsConnect(server.baseUrl, bob.accessToken),
      subscribe(server.baseUrl, bob.accessToken, { httpVersion: "1.1" }),
    ];
    await Promise.all(open.map((s) => s.caughtUp()));

    for (const extra of [subscribe(server.baseUrl, bob.accessToken), grpcJsConnect(server.baseUrl, bob.accessToken)]) {
      const status = await extra.end();
      expect({ wire: extra.wire, code: codeName(status.code) }).toEqual({ wire: extra.wire, code: "RESOURCE_EXHAUSTED" });
      expect(status.message).toContain("at most 3 live streams per user");
    }
    expect(server.app.realtime.hub.count(bob.userId)).toBe(3);

    const carols = [subscribe(server.baseUrl, carol.accessToken), subscribe(server.baseUrl, carol.accessToken)];
    await Promise.all(carols.map((s) => s.caughtUp()));

    open[0]!.close();
    await eventually(() => server.app.realtime.hub.count(bob.userId) === 2, 5000, "the cancelled stream to leave");
    const again = subscribe(server.baseUrl, bob.accessToken);
    await again.caughtUp();
    expect(server.app.realtime.hub.count(bob.userId)).toBe(3);
  });
});

describe("a stream whose client never takes a byte (WRITE_STALL_TIMEOUT_MS)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { WRITE_STALL_TIMEOUT_MS: "400" } });
  });
  afterAll(async () => {
    await closeAllStreams();
    await server.close();
  });

  it("is reset (ENHANCE_YOUR_CALM) once its pending bytes make no progress for the stall timeout, though it is far under its budgets", async () => {
    const [bob] = await participants(server.baseUrl, 1);
    const stalled = stalledSubscribe(server.baseUrl, bob.accessToken, 0n);
    await eventually(() => server.app.realtime.hub.count(bob.userId) === 1, 5000, "the stream to open");
    // Its caught_up frame alone is pending: a few hundred bytes, against a 1 MiB budget.
    expect(await stalled.closed).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    await eventually(() => server.app.realtime.hub.count(bob.userId) === 0, 5000, "the stream to leave the hub");
  });
});
