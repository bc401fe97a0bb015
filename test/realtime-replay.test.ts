import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { queryDatabase } from "./helpers/database.js";
import { participants, sendTo } from "./helpers/messaging.js";
import { anotherDevice, closeAllStreams, eventually, grpcJsConnect, realtimeClient, sendMany, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Durable events carry dense per-user cursors; a client resumes from the last one it
 * processed and gets everything after it exactly once, in order, then caught_up, then
 * live events — with no gap and no duplicate at the seam between replay and live.
 */

const UNLIMITED_SENDS = { SEND_RATE_PER_SECOND: "1000000", SEND_BURST: "1000000" };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: UNLIMITED_SENDS });
});
afterEach(closeAllStreams);
afterAll(() => server.close());

it("a client that missed 100 messages reconnects with its cursor and gets exactly those 100, in order, then caught_up", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  await sendTo(alice, bob);
  const first = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
  expect(await first.caughtUp()).toBe(1);
  first.close();
  await first.ended;

  const missed: string[] = [];
  for (let i = 0; i < 100; i++) missed.push((await sendTo(alice, bob)).messageId);

  const again = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 1 });
  expect(await again.caughtUp()).toBe(101);
  const replayed = again.received.slice(
    0,
    again.received.findIndex((f) => f.event.case === "caughtUp"),
  );
  expect(replayed.map((f) => Number(f.cursor))).toEqual(range(2, 101));
  expect(replayed.map((f) => (f.event.case === "messageNew" ? f.event.value.messageId : f.event.case))).toEqual(missed);
  expect(replayed.map((f) => (f.event.case === "messageNew" ? Number(f.event.value.seq) : 0))).toEqual(range(2, 101));
});

it("messages sent while a large backlog replays arrive exactly once: the cursors seen are last+1..N, each once, in order", async () => {
  const [bob, ...senders] = await participants(server.baseUrl, 5);
  const backlog = await Promise.all(senders.map((s) => sendMany(s, bob, 300)));
  const resumeFrom = 200;

  // Live sends start just before the stream opens and go on while it replays.
  const live = Promise.all(senders.map((s) => sendMany(s, bob, 60, 2)));
  const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: resumeFrom });
  const liveIds = await live;
  const total = 4 * 300 + 4 * 60;
  await stream.untilCursor(total, 30_000);
  // caught_up may follow the last replayed event in flight: wait for it (it times out if never sent).
  await stream.caughtUp();

  expect(stream.cursors()).toEqual(range(resumeFrom + 1, total));
  const caughtUp = stream.all("caughtUp");
  expect(caughtUp).toHaveLength(1);
  expect(Number(caughtUp[0]!.value.cursor)).toBeGreaterThanOrEqual(4 * 300);
  const ids = stream.all("messageNew").map(({ value }) => value.messageId);
  expect(new Set(ids).size).toBe(ids.length);
  const everySent = new Set([...backlog.flat(), ...liveIds.flat()]);
  expect(ids.every((id) => everySent.has(id))).toBe(true);
  expect(stream.isEnded).toBe(false);
});

it("acks are stored per session: a stream opened without resume_cursor replays from after that session's ack", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  const tablet = await anotherDevice(server.baseUrl, bob);
  for (let i = 0; i < 5; i++) await sendTo(alice, bob);

  const phone = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
  await phone.caughtUp();
  phone.ack(3);
  const ackedOf = async (sessionId: string) =>
    Number(
      (await queryDatabase<{ acked_cursor: string }>(server.databaseUrl, "SELECT acked_cursor FROM sessions WHERE id = $1", [sessionId]))[0]!.acked_cursor,
    );
  await eventually(async () => (await ackedOf(bob.sessionId)) === 3, 5000, "the ack to be stored");
  phone.ack(2); // acks never move back
  phone.close();

  const phoneAgain = grpcJsConnect(server.baseUrl, bob.accessToken);
  expect(await phoneAgain.caughtUp()).toBe(5);
  expect(phoneAgain.cursors()).toEqual([4, 5]);

  // The tablet is another session: it acked nothing, so it replays everything.
  const tabletStream = subscribe(server.baseUrl, tablet.accessToken);
  expect(await tabletStream.caughtUp()).toBe(5);
  expect(tabletStream.cursors()).toEqual([1, 2, 3, 4, 5]);
  expect(await ackedOf(tablet.sessionId)).toBe(0);
});

it("an ack through Publish is stored exactly as one on the stream", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  for (let i = 0; i < 4; i++) await sendTo(alice, bob);
  const { result } = await realtimeClient(server.baseUrl, bob.accessToken).publish({ frame: { frame: { case: "ack", value: { cursor: 2n } } } });
  expect(result).toBeUndefined();

  const stream = subscribe(server.baseUrl, bob.accessToken);
  expect(await stream.caughtUp()).toBe(4);
  expect(stream.cursors()).toEqual([3, 4]);
});

it("every open stream of a user receives every event, whichever device and protocol", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  const tablet = await anotherDevice(server.baseUrl, bob);
  const streams = [
    grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 }),
    grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 }),
    subscribe(server.baseUrl, bob.accessToken, { resumeCursor: 0 }),
    grpcJsConnect(server.baseUrl, tablet.accessToken, { resumeCursor: 0 }),
    subscribe(server.baseUrl, tablet.accessToken, { resumeCursor: 0, httpVersion: "1.1" }),
  ];
  for (const stream of streams) await stream.caughtUp();
  const sent = await sendMany(alice, bob, 20, 1);

  for (const stream of streams) {
    await stream.untilCursor(20);
    expect(stream.cursors()).toEqual(range(1, 20));
    expect(stream.all("messageNew").map(({ value }) => value.messageId)).toEqual(sent);
  }
});

it("a cursor older than retention gets caught_up with resync_required, after what is still retained", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  for (let i = 0; i < 5; i++) await sendTo(alice, bob);
  // What the retention pruner does to events older than EVENT_RETENTION_DAYS.
  await queryDatabase(server.databaseUrl, "DELETE FROM events WHERE user_id = $1 AND cursor <= 3", [bob.userId]);

  const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 1 });
  const { value } = await stream.take("caughtUp");
  expect(value).toMatchObject({ cursor: 5n, resyncRequired: true });
  expect(stream.cursors()).toEqual([4, 5]);
});

it("a cursor from the future gets caught_up at the newest cursor with resync_required, then live events", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  await sendTo(alice, bob);
  const stream = subscribe(server.baseUrl, bob.accessToken, { resumeCursor: 1000 });
  expect((await stream.take("caughtUp")).value).toMatchObject({ cursor: 1n, resyncRequired: true });
  await sendTo(alice, bob);
  await stream.untilCursor(2);
  expect(stream.cursors()).toEqual([2]);
});

it("an up-to-date client gets caught_up at once, with resync_required false", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  await sendTo(alice, bob);
  const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 1 });
  expect((await stream.take("caughtUp")).value).toMatchObject({ cursor: 1n, resyncRequired: false });
  expect(stream.cursors()).toEqual([]);
});

describe("with a small stream buffer (STREAM_BUFFER_FRAMES=32)", () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ env: { ...UNLIMITED_SENDS, STREAM_BUFFER_FRAMES: "32" } });
  });
  afterAll(() => small.close());

  it("a client that reads its replay slowly is not cut off, however many events arrive meanwhile", async () => {
    const [alice, bob] = await participants(small.baseUrl, 2);
    // 800 KB of backlog: far more than HTTP/2 flow control and the buffers let through to a client that does not read.
    await sendMany(alice, bob, 200, 8, 4000);
    const stream = grpcJsConnect(small.baseUrl, bob.accessToken, { resumeCursor: 0 });
    stream.pause();
    await sendMany(alice, bob, 100); // three buffers' worth arrive while the replay waits for the reader
    expect(stream.isEnded).toBe(false);
    stream.resume();

    await stream.untilCursor(300);
    expect(stream.cursors()).toEqual(range(1, 300));
    expect(stream.isEnded).toBe(false);
    await sendTo(alice, bob);
    await stream.untilCursor(301);
  });
});
