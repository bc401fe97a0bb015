import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { CallSignalType } from "../src/gen/cyphr/realtime/v1/realtime_pb.js";
import { codeName } from "./helpers/inbox.js";
import { participants, sendTo } from "./helpers/messaging.js";
import { anotherDevice, closeAllStreams, grpcJsConnect, identityOf, onServer, realtimeClient, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Two instances on one database (as behind a load balancer): whatever happens on one
 * reaches streams held by the other, through PostgreSQL LISTEN/NOTIFY.
 */

let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  a = await startTestServer();
  b = await startTestServer({ databaseUrl: a.databaseUrl, dataDir: a.dataDir });
});
afterEach(closeAllStreams);
afterAll(async () => {
  await b?.close();
  await a?.close();
});

it("a message sent through instance A reaches the recipient's streams on instance B within a second", async () => {
  const [alice, bob] = await participants(a.baseUrl, 2);
  const native = grpcJsConnect(b.baseUrl, bob.accessToken, { resumeCursor: 0 });
  const browser = subscribe(b.baseUrl, bob.accessToken, { resumeCursor: 0 });
  await Promise.all([native.caughtUp(), browser.caughtUp()]);

  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    const sent = await sendTo(alice, bob);
    for (const stream of [native, browser]) {
      const { value } = await stream.take("messageNew", undefined, 1000);
      expect(value.messageId).toBe(sent.messageId);
    }
    expect(performance.now() - started).toBeLessThan(1000);
  }
  expect(native.cursors()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

it("typing, presence and call signals from one instance reach streams on the other", async () => {
  const [alice, bob] = await participants(a.baseUrl, 2);
  const bobTablet = await anotherDevice(a.baseUrl, bob);
  const { chatId } = await sendTo(alice, bob);
  const phoneOnA = grpcJsConnect(a.baseUrl, bob.accessToken, { resumeCursor: 1 });
  const tabletOnB = grpcJsConnect(b.baseUrl, bobTablet.accessToken, { resumeCursor: 1 });
  await Promise.all([phoneOnA.caughtUp(), tabletOnB.caughtUp()]);

  const aliceOnA = subscribe(a.baseUrl, alice.accessToken);
  await tabletOnB.take("presence", (p) => p.userId === alice.userId && p.online);

  await realtimeClient(a.baseUrl, alice.accessToken).publish({ frame: { frame: { case: "typing", value: { chatId, typing: true } } } });
  await tabletOnB.take("typing", (t) => t.userId === alice.userId && t.typing);

  const callId = randomUUID();
  await realtimeClient(a.baseUrl, alice.accessToken).publish({
    frame: { frame: { case: "callSignal", value: { callId, chatId, type: CallSignalType.OFFER, payload: Buffer.from("offer") } } },
  });
  for (const device of [phoneOnA, tabletOnB]) await device.take("callSignal", (s) => s.callId === callId && s.type === CallSignalType.OFFER);

  aliceOnA.close();
  await tabletOnB.take("presence", (p) => p.userId === alice.userId && !p.online);
});

it("logout ends that session's streams on every instance with UNAUTHENTICATED; the user's other sessions keep streaming", async () => {
  const [alice, bob] = await participants(a.baseUrl, 2);
  const tablet = await anotherDevice(a.baseUrl, bob);
  const onA = grpcJsConnect(a.baseUrl, bob.accessToken, { resumeCursor: 0 });
  const onB = subscribe(b.baseUrl, bob.accessToken, { resumeCursor: 0 });
  const onBbidi = grpcJsConnect(b.baseUrl, bob.accessToken, { resumeCursor: 0 });
  const tabletOnB = grpcJsConnect(b.baseUrl, tablet.accessToken, { resumeCursor: 0 });
  for (const stream of [onA, onB, onBbidi, tabletOnB]) await stream.caughtUp();

  await identityOf(b.baseUrl, bob).logout({});
  for (const stream of [onA, onB, onBbidi]) {
    const status = await stream.end(2000);
    expect({ wire: stream.wire, code: codeName(status.code), message: status.message }).toEqual({
      wire: stream.wire,
      code: "UNAUTHENTICATED",
      message: "session was revoked",
    });
  }

  const sent = await sendTo(alice, bob);
  expect((await tabletOnB.take("messageNew")).value.messageId).toBe(sent.messageId);
  expect(tabletOnB.isEnded).toBe(false);
  // The logged-out session cannot open a new stream anywhere.
  for (const server of [a, b]) expect(codeName((await grpcJsConnect(server.baseUrl, bob.accessToken).end()).code)).toBe("UNAUTHENTICATED");
});

it("a user stays online while any instance holds a stream of theirs", async () => {
  const [alice, bob] = await participants(a.baseUrl, 2);
  await sendTo(alice, bob);
  await sendTo(bob, alice); // bob accepts alice by replying: his presence reaches her
  const watcher = subscribe(a.baseUrl, alice.accessToken);
  await watcher.caughtUp();

  const bobOnA = subscribe(a.baseUrl, bob.accessToken);
  const bobOnB = subscribe(b.baseUrl, bob.accessToken);
  await Promise.all([bobOnA.caughtUp(), bobOnB.caughtUp()]);
  await watcher.take("presence", (p) => p.userId === bob.userId && p.online);

  bobOnA.close();
  expect(await watcher.quiet("presence", 500, (p) => p.userId === bob.userId)).toEqual([]);
  bobOnB.close();
  const offline = await watcher.take("presence", (p) => p.userId === bob.userId);
  expect(offline.value).toMatchObject({ online: false });
  expect(offline.value.lastSeen).toBeDefined();
  expect(
    watcher
      .all("presence")
      .filter(({ value }) => value.userId === bob.userId)
      .map(({ value }) => value.online),
  ).toEqual([true, false]);
});

it("an ack stored through one instance is where a stream on the other resumes", async () => {
  const [alice, bob] = await participants(a.baseUrl, 2);
  for (let i = 0; i < 3; i++) await sendTo(onServer(b.baseUrl, alice), bob);
  await realtimeClient(a.baseUrl, bob.accessToken).publish({ frame: { frame: { case: "ack", value: { cursor: 2n } } } });
  const stream = grpcJsConnect(b.baseUrl, bob.accessToken);
  expect(await stream.caughtUp()).toBe(3);
  expect(stream.cursors()).toEqual([3]);
});
