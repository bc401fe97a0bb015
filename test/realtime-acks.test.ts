import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryDatabase } from "./helpers/database.js";
import { participants, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, eventually, grpcJsConnect, realtimeClient, sleep, subscribe } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Acks are written coalesced (src/realtime/acks.ts): only a session's highest ack counts,
 * and all pending acks are stored in one statement every ACK_FLUSH_MS, when the session's
 * stream closes, before a stream of the session resumes from its stored ack, and at shutdown.
 */

const storedAck = async (server: TestServer, sessionId: string) =>
  Number((await queryDatabase<{ acked_cursor: string }>(server.databaseUrl, "SELECT acked_cursor FROM sessions WHERE id = $1", [sessionId]))[0]!.acked_cursor);

describe("with a long flush interval (ACK_FLUSH_MS=60000)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ACK_FLUSH_MS: "60000" } });
  });
  afterAll(async () => {
    await closeAllStreams();
    await server.close();
  });

  it("acks on a stream are not written one by one; the highest is stored when the stream closes", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    for (let i = 0; i < 5; i++) await sendTo(alice, bob);
    const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    expect(await stream.caughtUp()).toBe(5);
    for (const cursor of [1, 2, 4, 3, 5]) stream.ack(cursor);
    stream.heartbeat();
    await eventually(() => server.app.realtime.acks.pendingCount === 1, 5000, "the acks to reach the server");
    await sleep(200);
    expect(await storedAck(server, bob.sessionId)).toBe(0);

    stream.close();
    await eventually(async () => (await storedAck(server, bob.sessionId)) === 5, 5000, "the ack written on close");
    expect(server.app.realtime.acks.pendingCount).toBe(0);
  });

  it("a stream opened without resume_cursor resumes after the session's newest ack, written or not", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    for (let i = 0; i < 4; i++) await sendTo(alice, bob);
    const phone = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    await phone.caughtUp();
    phone.ack(2);
    phone.heartbeat();
    await eventually(() => server.app.realtime.acks.pendingCount === 1, 5000, "the ack to reach the server");
    expect(await storedAck(server, bob.sessionId)).toBe(0);
    // The phone's stream is still open: nothing has written its ack yet.
    const stream = subscribe(server.baseUrl, bob.accessToken);
    expect(await stream.caughtUp()).toBe(4);
    expect(stream.cursors()).toEqual([3, 4]);
  });

  it("an ack through Publish is stored before Publish answers (the next stream may open on another instance)", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    for (let i = 0; i < 3; i++) await sendTo(alice, bob);
    await realtimeClient(server.baseUrl, bob.accessToken).publish({ frame: { frame: { case: "ack", value: { cursor: 2n } } } });
    expect(await storedAck(server, bob.sessionId)).toBe(2);
  });
});

describe("with a short flush interval (ACK_FLUSH_MS=100)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ACK_FLUSH_MS: "100" } });
  });
  afterAll(async () => {
    await closeAllStreams();
    await server.close();
  });

  it("the acks of streams that stay open are stored within an interval, never moving back", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    for (let i = 0; i < 3; i++) await sendTo(alice, bob);
    const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    await stream.caughtUp();
    stream.ack(3);
    await eventually(async () => (await storedAck(server, bob.sessionId)) === 3, 5000, "the ack to be stored");
    stream.ack(1);
    await sleep(300);
    expect(await storedAck(server, bob.sessionId)).toBe(3);
    expect(stream.isEnded).toBe(false);
  });
});

it("pending acks are written at shutdown", async () => {
  const server = await startTestServer({ env: { ACK_FLUSH_MS: "60000" } });
  const [alice, bob] = await participants(server.baseUrl, 2);
  for (let i = 0; i < 2; i++) await sendTo(alice, bob);
  const stream = grpcJsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
  await stream.caughtUp();
  stream.ack(2);
  stream.heartbeat();
  await eventually(() => server.app.realtime.acks.pendingCount === 1, 5000, "the ack to reach the server");
  expect(await storedAck(server, bob.sessionId)).toBe(0);
  await server.close();
  expect(await storedAck(server, bob.sessionId)).toBe(2);
});
