import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SubscribeRequestSchema } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { codeName } from "./helpers/inbox.js";
import { participants, randomPayload, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, eventually, grpcJsConnect, identityOf, sleep, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * How streams start, stay alive and end: the hello, authentication, heartbeats and the
 * idle deadline, clients that stop reading, and server shutdown.
 */

const HEARTBEAT_MS = 200;
const BUFFER_FRAMES = 32;
const ENV = {
  HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
  STREAM_BUFFER_FRAMES: String(BUFFER_FRAMES),
  SEND_RATE_PER_SECOND: "1000000",
  SEND_BURST: "1000000",
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: ENV });
});
afterEach(closeAllStreams);
afterAll(() => server.close());

/** A live bidi client: heartbeats twice per interval. */
const KEEP_ALIVE = { heartbeatEveryMs: HEARTBEAT_MS / 2 };

describe("heartbeats and the idle deadline", () => {
  it("the server sends a heartbeat every HEARTBEAT_INTERVAL_MS", async () => {
    const [bob] = await participants(server.baseUrl, 1);
    const stream = subscribe(server.baseUrl, bob.accessToken);
    const arrivals: number[] = [];
    await stream.caughtUp();
    for (let i = 0; i < 6; i++) {
      await stream.take("heartbeat", undefined, HEARTBEAT_MS * 3);
      arrivals.push(performance.now());
    }
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan(HEARTBEAT_MS * 0.75);
    expect(mean).toBeLessThan(HEARTBEAT_MS * 1.5);
  });

  it("a bidi client that sends nothing for three intervals is ended with DEADLINE_EXCEEDED; one that heartbeats stays", async () => {
    const [bob] = await participants(server.baseUrl, 1);
    const opened = performance.now();
    const silent = grpcJsConnect(server.baseUrl, bob.accessToken);
    const alive = grpcJsConnect(server.baseUrl, bob.accessToken, KEEP_ALIVE);

    const status = await silent.end(HEARTBEAT_MS * 10);
    const after = performance.now() - opened;
    expect({ code: codeName(status.code), message: status.message }).toEqual({
      code: "DEADLINE_EXCEEDED",
      message: expect.stringContaining(`no frame from the client for ${HEARTBEAT_MS * 3} ms`),
    });
    expect(after).toBeGreaterThanOrEqual(HEARTBEAT_MS * 3);
    // Checked once per interval, so due between 3 and 4 intervals; the rest is room for timer lag on a loaded machine
    // (a stream never ended would hit end()'s 10 intervals).
    expect(after).toBeLessThan(HEARTBEAT_MS * 9);
    // The heartbeating client outlives it by well over the deadline.
    await sleep(HEARTBEAT_MS * 4);
    expect(alive.isEnded).toBe(false);
  });

  it("a bidi client that half-closed after the hello keeps receiving events, past the idle deadline", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    await stream.caughtUp();
    stream.halfClose();
    await sleep(HEARTBEAT_MS * 5);
    const sent = await sendTo(alice, bob);
    expect((await stream.take("messageNew")).value.messageId).toBe(sent.messageId);
    expect(stream.isEnded).toBe(false);
  });

  it("a Subscribe stream is never ended for client silence (there is nothing to send on it)", async () => {
    const [bob] = await participants(server.baseUrl, 1);
    const stream = subscribe(server.baseUrl, bob.accessToken);
    await stream.caughtUp();
    await stream.count("heartbeat", 6, undefined, HEARTBEAT_MS * 12);
    expect(stream.isEnded).toBe(false);
  });
});

describe("the hello and authentication", () => {
  it("a Connect stream whose first frame is not hello ends with INVALID_ARGUMENT", async () => {
    const [bob] = await participants(server.baseUrl, 1);
    const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { noHello: true });
    stream.ack(1);
    const status = await stream.end();
    expect({ code: codeName(status.code), message: status.message }).toEqual({
      code: "INVALID_ARGUMENT",
      message: "the first frame of a Connect stream must be hello",
    });
    expect(stream.received).toEqual([]);
  });

  it("a Connect stream that never sends its hello ends with DEADLINE_EXCEEDED after three intervals", async () => {
    const [bob] = await participants(server.baseUrl, 1);
    const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { noHello: true });
    const status = await stream.end(HEARTBEAT_MS * 10);
    expect(codeName(status.code)).toBe("DEADLINE_EXCEEDED");
    expect(status.message).toContain("no hello");
    await eventually(() => server.app.realtime.hub.size === 0, 2000, "no stream left on the server");
  });

  it("a second hello is answered with a frame_error carrying its request_id, and the stream goes on", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0, ...KEEP_ALIVE });
    await stream.caughtUp();
    stream.send({ requestId: "again", frame: { case: "hello", value: {} } });
    const { value } = await stream.take("frameError");
    expect(value).toMatchObject({ requestId: "again", error: { code: 3, message: "hello is only allowed as the first frame of a Connect stream" } });
    await sendTo(alice, bob);
    await stream.take("messageNew");
  });

  it("streams without a valid access token end with UNAUTHENTICATED, on Connect and on Subscribe", async () => {
    const [bob] = await participants(server.baseUrl, 1);
    const revoked = await participants(server.baseUrl, 1).then(([u]) => u);
    await identityOf(server.baseUrl, revoked).logout({});
    const cases = {
      "no token": undefined,
      "a malformed token": "not-a-jwt",
      "a forged token": `${bob.accessToken.slice(0, -4)}AAAA`,
      "a logged-out session's token": revoked.accessToken,
    };
    for (const [name, token] of Object.entries(cases)) {
      for (const stream of [grpcJsConnect(server.baseUrl, token), subscribe(server.baseUrl, token), subscribe(server.baseUrl, token, { httpVersion: "1.1" })]) {
        const status = await stream.end();
        expect(codeName(status.code), `${stream.wire} with ${name}`).toBe("UNAUTHENTICATED");
        expect(stream.received).toEqual([]);
      }
    }
  });
});

describe("a client that stops reading", () => {
  it("is ended with RESOURCE_EXHAUSTED, leaves the server at once, and resumes from its last cursor with nothing lost", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0, ...KEEP_ALIVE });
    await stream.caughtUp();
    stream.pause();

    let sent = 0;
    while (!stream.isEnded && sent < 400) {
      await sendTo(alice, bob, randomPayload(4000));
      sent++;
    }
    const status = await stream.end();
    // grpc-js reports the server's RST_STREAM (ENHANCE_YOUR_CALM) in its own words.
    expect(codeName(status.code)).toBe("RESOURCE_EXHAUSTED");
    expect(sent).toBeLessThan(400);
    await eventually(() => server.app.realtime.hub.size === 0, 2000, "the stream to leave the hub");

    // More events for the user cost the server nothing now.
    for (let i = 0; i < 20; i++) await sendTo(alice, bob, randomPayload(4000));
    sent += 20;
    expect(server.app.realtime.hub.size).toBe(0);

    const lastProcessed = Math.max(0, ...stream.cursors());
    const resumed = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: lastProcessed, ...KEEP_ALIVE });
    expect(await resumed.caughtUp()).toBe(sent);
    expect([...stream.cursors(), ...resumed.cursors()]).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
  });

  it("on a raw HTTP/2 gRPC stream that is never read, gets RST_STREAM ENHANCE_YOUR_CALM, and the server keeps nothing", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await sendTo(alice, bob);
    const session = http2.connect(server.baseUrl);
    const body = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { resumeCursor: 1n }));
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(body.length, 1);
    const call = session.request({
      ":method": "POST",
      ":path": "/cyphr.realtime.v1.RealtimeService/Subscribe",
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${bob.accessToken}`,
    });
    call.end(Buffer.concat([prefix, body]));
    call.on("error", () => undefined); // the reset, also seen as rstCode
    const closed = new Promise<number>((resolve) => call.once("close", () => resolve(call.rstCode ?? -1)));
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    await eventually(() => server.app.realtime.hub.size === 1, 2000, "the stream to open");

    let sent = 1;
    while (!isClosed && sent < 400) {
      await sendTo(alice, bob, randomPayload(4000));
      sent++;
    }
    expect(await closed).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(sent).toBeLessThan(400);
    expect(server.app.realtime.hub.size).toBe(0);
    session.close();
  });
});

describe("server shutdown", () => {
  it("ends open streams with UNAVAILABLE; clients resume on a restarted server with nothing lost", async () => {
    const a = await startTestServer({ env: ENV });
    const b = await startTestServer({ env: ENV, databaseUrl: a.databaseUrl, dataDir: a.dataDir });
    let restarted: TestServer | undefined;
    try {
      const [alice, bob] = await participants(b.baseUrl, 2);
      const native = grpcJsConnect(a.baseUrl, bob.accessToken, { resumeCursor: 0, ...KEEP_ALIVE });
      const browser = subscribe(a.baseUrl, bob.accessToken, { resumeCursor: 0 });
      await Promise.all([native.caughtUp(), browser.caughtUp()]);

      // Alice keeps sending through instance B while A goes down and comes back.
      let sending = true;
      const sentIds: string[] = [];
      const sender = (async () => {
        while (sending) {
          sentIds.push((await sendTo(alice, bob)).messageId);
          await sleep(10);
        }
      })();
      await native.untilCursor(5);
      await browser.untilCursor(5);

      await a.close();
      const sentWhileUp = sentIds.length;
      for (const stream of [native, browser]) {
        const status = await stream.end();
        expect({ wire: stream.wire, code: codeName(status.code) }).toEqual({ wire: stream.wire, code: "UNAVAILABLE" });
        expect(status.message).toContain("reconnect and resume");
      }

      restarted = await startTestServer({ env: ENV, databaseUrl: a.databaseUrl, dataDir: a.dataDir });
      expect(sentIds.length, "messages sent while no server held bob's streams").toBeGreaterThan(sentWhileUp);
      await sleep(200);
      sending = false;
      await sender;
      const total = sentIds.length;

      for (const before of [native, browser]) {
        const last = Math.max(...before.cursors());
        const after =
          before === native
            ? grpcJsConnect(restarted.baseUrl, bob.accessToken, { resumeCursor: last, ...KEEP_ALIVE })
            : subscribe(restarted.baseUrl, bob.accessToken, { resumeCursor: last });
        await after.untilCursor(total);
        const all = [...before.all("messageNew"), ...after.all("messageNew")].map(({ value }) => value.messageId);
        expect(all).toEqual(sentIds);
        expect([...before.cursors(), ...after.cursors()]).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      }
    } finally {
      await closeAllStreams();
      await restarted?.close();
      await b.close();
      await a.close();
    }
  });
});
