import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { createTestDatabase, queryDatabase } from "./helpers/database.js";
import { type Participant, participants, sendTo } from "./helpers/messaging.js";
import { type StatementCounter, startStatementCounter } from "./helpers/pg-statement-counter.js";
import { closeAllStreams, connectEsConnect, eventually, type RealtimeStream, setSharePresence } from "./helpers/realtime.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Reconnecting is cheap: a stream that closes and resumes from its cursor costs a bounded,
 * small number of database statements (counted on the wire to PostgreSQL, transactions
 * included), whatever the user's number of chats and peers, while the replay still
 * delivers exactly the events after the cursor, each once, and presence stays right for
 * the user and their peers.
 */

/** Statements of timers, not of reconnects (the instance heartbeat every 10 s). */
const PERIODIC = new Set(["registerInstance", "reapStaleInstances"]);
/**
 * Upper bounds per reconnect: opening with a small backlog (presence, the replay's start, the
 * message read-back, the snapshot, the presence notice; one more, the session check, when the
 * 5 s confirmation of the session lapsed between rounds on a slow machine), and closing the
 * user's last stream.
 */
const MAX_OPEN_STATEMENTS = 6;
const MAX_CLOSE_STATEMENTS = 2;

let counter: StatementCounter;
let server: TestServer;
let alice: Participant;
let bob: Participant;
let carol: Participant;
let carolStream: RealtimeStream;

beforeAll(async () => {
  counter = await startStatementCounter(await createTestDatabase());
  server = await startTestServer({
    databaseUrl: counter.url,
    // No periodic database work during the measured windows.
    env: { HEALTH_CHECK_INTERVAL_MS: "60000", SWEEP_INTERVAL_MS: "3600000" },
  });
  [alice, bob, carol] = await participants(server.baseUrl, 3);
  await sendTo(alice, bob);
  await sendTo(carol, bob);
  await sendTo(bob, carol); // a reply: carol and bob accepted each other, so each sees the other's presence
  // Bob has more peers than he sees online: a peer scan would grow with them.
  const others = await participants(server.baseUrl, 6);
  for (const other of others) await sendTo(other, bob);
});
afterEach(closeAllStreams);
afterAll(async () => {
  await server.close();
  await counter.close();
});

function measured(): string[] {
  return counter.statements.filter((name) => !PERIODIC.has(name));
}

it("ten reconnects with a backlog each: every replay is exactly the missed events, presence is right, and each reconnect runs a bounded number of statements", async () => {
  carolStream = connectEsConnect(server.baseUrl, carol.accessToken, { heartbeatEveryMs: 1000 });
  await carolStream.caughtUp();
  let lastCursor = await (async () => {
    const first = connectEsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    const cursor = await first.caughtUp();
    await carolStream.take("presence", (p) => p.userId === bob.userId && p.online);
    first.close();
    await carolStream.take("presence", (p) => p.userId === bob.userId && !p.online);
    return cursor;
  })();

  const perReconnect: { open: string[]; close: string[] }[] = [];
  for (let round = 0; round < 10; round++) {
    const missed: string[] = [];
    for (let i = 0; i < 3; i++) missed.push((await sendTo(alice, bob)).messageId);

    counter.reset();
    const stream = connectEsConnect(server.baseUrl, bob.accessToken, { resumeCursor: lastCursor });
    const caughtUp = await stream.caughtUp();
    // The snapshot after caught_up: carol is online (and shares presence); no one else is.
    await stream.take("presence", (p) => p.userId === carol.userId && p.online);
    await carolStream.take("presence", (p) => p.userId === bob.userId && p.online);
    const open = measured();

    const replayed = stream.received.slice(
      0,
      stream.received.findIndex((f) => f.event.case === "caughtUp"),
    );
    expect(replayed.map((f) => Number(f.cursor))).toEqual([lastCursor + 1, lastCursor + 2, lastCursor + 3]);
    expect(replayed.map((f) => (f.event.case === "messageNew" ? f.event.value.messageId : f.event.case))).toEqual(missed);
    expect(caughtUp).toBe(lastCursor + 3);
    expect(stream.all("presence").map(({ value }) => value.userId)).toEqual([carol.userId]);
    lastCursor = caughtUp;

    counter.reset();
    stream.close();
    const offline = await carolStream.take("presence", (p) => p.userId === bob.userId && !p.online);
    expect(offline.value.lastSeen).toBeDefined();
    perReconnect.push({ open, close: measured() });
  }

  if (process.env.SHOW_STATEMENTS) console.log(JSON.stringify(perReconnect.slice(0, 2), null, 1));
  for (const { open, close } of perReconnect) {
    expect.soft(open.length, `opening ran: ${open.join(", ")}`).toBeLessThanOrEqual(MAX_OPEN_STATEMENTS);
    expect.soft(close.length, `closing ran: ${close.join(", ")}`).toBeLessThanOrEqual(MAX_CLOSE_STATEMENTS);
  }
});

it("a second stream of an online user, opened and closed, runs no presence statement at all", async () => {
  const phone = connectEsConnect(server.baseUrl, bob.accessToken);
  await phone.caughtUp();
  await new Promise((resolve) => setTimeout(resolve, 200)); // bob's coming online is recorded

  counter.reset();
  const tablet = connectEsConnect(server.baseUrl, bob.accessToken);
  await tablet.caughtUp();
  tablet.close();
  await tablet.ended;
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(measured().filter((name) => /presence/i.test(name))).toEqual([]);
  expect(phone.isEnded).toBe(false);
});

it("opening a stream while none of the user's peers is visibly online runs no presence snapshot statement, whatever their number", async () => {
  const [loner, ...peers] = await participants(server.baseUrl, 4);
  for (const peer of peers) await sendTo(peer, loner);
  // A peer who is online but hides their presence is not visible either.
  await setSharePresence(server.baseUrl, peers[0]!, false);
  const hidden = connectEsConnect(server.baseUrl, peers[0]!.accessToken);
  await hidden.caughtUp();
  await eventually(async () => (await queryDatabase(server.databaseUrl, "SELECT user_id FROM presence")).length === 1);

  counter.reset();
  const stream = connectEsConnect(server.baseUrl, loner.accessToken);
  await stream.caughtUp();
  expect(await stream.quiet("presence", 300)).toEqual([]);
  const open = measured();
  expect(
    open.filter((name) => /peers/i.test(name)),
    `opening ran: ${open.join(", ")}`,
  ).toEqual([]);
  expect(open.length, `opening ran: ${open.join(", ")}`).toBeLessThanOrEqual(MAX_OPEN_STATEMENTS);
});

it("streams opening at once each replay exactly their own backlog from the start read with their resume point, with no further event read", async () => {
  const users = await participants(server.baseUrl, 8);
  const sent = new Map<string, string[]>();
  for (const user of users) sent.set(user.userId, [(await sendTo(alice, user)).messageId, (await sendTo(carol, user)).messageId]);
  counter.reset();
  const streams = users.map((user) => connectEsConnect(server.baseUrl, user.accessToken, { resumeCursor: 0 }));
  await Promise.all(streams.map((s) => s.caughtUp()));
  for (const [k, user] of users.entries()) {
    const replayed = streams[k]!.all("messageNew").map(({ value }) => value.messageId);
    expect(replayed).toEqual(sent.get(user.userId));
  }
  const open = measured();
  expect(
    open.filter((name) => name === "listEvents"),
    `opening ran: ${open.join(", ")}`,
  ).toEqual([]);
  expect(open.filter((name) => name === "replayStarts").length).toBeLessThanOrEqual(users.length);
});
