import { randomUUID } from "node:crypto";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, SystemEventKind } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { queryDatabase } from "./helpers/database.js";
import { chatEntry, type Participant, participants, randomPayload, sendInChat, sendTo, seqsOf } from "./helpers/messaging.js";
import { sleep } from "./helpers/process.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Disappearing messages: chat timers, per-message expiry, and the sweeper that purges them. */

/** Waits until the server's clock (the same host's) has passed `expiresAt`. */
async function waitPast(expiresAt: Timestamp | undefined): Promise<void> {
  expect(expiresAt).toBeDefined();
  const wait = timestampDate(expiresAt!).getTime() + 100 - Date.now();
  if (wait > 0) await sleep(wait);
}

function sendExpiring(from: Participant, chatId: string, expiresInSeconds: number) {
  return from.messaging.sendMessage({
    destination: { case: "chatId", value: chatId },
    clientMessageId: randomUUID(),
    payload: randomPayload(),
    messageType: 1,
    expiresInSeconds,
  });
}

const millis = (t: Timestamp | undefined) => timestampDate(t!).getTime();

describe("before the sweeper runs (SWEEP_INTERVAL_MS one hour)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { SWEEP_INTERVAL_MS: "3600000" } });
  });
  afterAll(() => server.close());

  const rowExists = async (messageId: string) => (await queryDatabase(server.databaseUrl, `SELECT 1 FROM messages WHERE id = $1`, [messageId])).length === 1;

  it("SetChatTimer 1 s: a message sent afterwards is no longer listed once expired, though its row is still stored", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const before = await sendTo(alice, bob);
    const timer = await alice.messaging.setChatTimer({ chatId: before.chatId, timerSeconds: 1 });
    expect(timer).toEqual(expect.objectContaining({ timerSeconds: 1, seq: 2n }));
    expect(await chatEntry(bob, before.chatId)).toMatchObject({ timerSeconds: 1 });

    const doomed = await sendInChat(alice, before.chatId);
    expect(millis(doomed.expiresAt) - millis(doomed.serverTime)).toBe(1000);
    const listed = await bob.messaging.listMessages({ chatId: before.chatId, direction: Direction.FORWARD });
    expect(seqsOf(listed.messages)).toEqual([1, 2, 3]);
    expect(listed.messages[2]!.expiresAt).toEqual(doomed.expiresAt);
    expect(await chatEntry(bob, before.chatId)).toMatchObject({ unreadCount: 2 });

    await waitPast(doomed.expiresAt);
    for (const viewer of [alice, bob]) {
      const after = await viewer.messaging.listMessages({ chatId: before.chatId, direction: Direction.FORWARD });
      expect(seqsOf(after.messages)).toEqual([1, 2]);
    }
    expect(await rowExists(doomed.messageId)).toBe(true);
    expect(await chatEntry(bob, before.chatId)).toMatchObject({ unreadCount: 1 });
    await expectRpcError(
      alice.messaging.editMessage({ messageId: doomed.messageId, payload: randomPayload() }),
      Code.NotFound,
      `message ${doomed.messageId} not found`,
    );
    await expectRpcError(alice.messaging.deleteMessage({ messageId: doomed.messageId }), Code.NotFound, "not found");
  });

  it("the timer change is a system message naming the actor and the new timer, and it never expires", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const { seq } = await bob.messaging.setChatTimer({ chatId, timerSeconds: 1 });
    const [message] = (await alice.messaging.listMessages({ chatId, cursorSeq: seq - 1n, limit: 1, direction: Direction.FORWARD })).messages;
    expect(message!.systemEvent).toMatchObject({
      kind: SystemEventKind.TIMER_CHANGED,
      actorUserId: bob.userId,
      actorCyphrId: bob.cyphrId,
      timerSeconds: 1,
    });
    expect(message!.expiresAt).toBeUndefined();
    expect(message!.senderCyphrId).toBe("");
  });

  it("expires_in_seconds 1 makes one message disappear in a chat without a timer; the others stay", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const doomed = await sendExpiring(alice, chatId, 1);
    const kept = await sendInChat(alice, chatId);
    expect(kept.expiresAt).toBeUndefined();
    expect(millis(doomed.expiresAt) - millis(doomed.serverTime)).toBe(1000);

    await waitPast(doomed.expiresAt);
    const { messages } = await bob.messaging.listMessages({ chatId, direction: Direction.FORWARD });
    expect(seqsOf(messages)).toEqual([1, 3]);
    expect(await rowExists(doomed.messageId)).toBe(true);
  });

  it("expires_in_seconds overrides the chat timer, and timer 0 turns the timer off for later messages", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    await alice.messaging.setChatTimer({ chatId, timerSeconds: 3600 });
    const timed = await sendInChat(alice, chatId);
    const overridden = await sendExpiring(alice, chatId, 60);
    expect(millis(timed.expiresAt) - millis(timed.serverTime)).toBe(3_600_000);
    expect(millis(overridden.expiresAt) - millis(overridden.serverTime)).toBe(60_000);

    expect(await alice.messaging.setChatTimer({ chatId, timerSeconds: 0 })).toMatchObject({ timerSeconds: 0 });
    expect((await sendInChat(alice, chatId)).expiresAt).toBeUndefined();
    expect(await chatEntry(alice, chatId)).toMatchObject({ timerSeconds: 0 });
  });

  it("timers above one year are refused with INVALID_ARGUMENT", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    await expectRpcError(alice.messaging.setChatTimer({ chatId, timerSeconds: 31_536_001 }), Code.InvalidArgument, "timer_seconds must be at most 31536000");
    await expectRpcError(sendExpiring(alice, chatId, 31_536_001), Code.InvalidArgument, "expires_in_seconds must be at most 31536000");
  });
});

describe("with the sweeper running every 200 ms", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { SWEEP_INTERVAL_MS: "200" } });
  });
  afterAll(() => server.close());

  it("an expired message's row is purged from the messages table; unexpired ones stay", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const kept = await sendTo(alice, bob);
    await alice.messaging.setChatTimer({ chatId: kept.chatId, timerSeconds: 1 });
    const viaTimer = await sendInChat(bob, kept.chatId);
    const viaExpiry = await sendExpiring(alice, kept.chatId, 1);
    const ids = [kept.messageId, viaTimer.messageId, viaExpiry.messageId];
    const stored = async () =>
      (await queryDatabase<{ id: string }>(server.databaseUrl, `SELECT id FROM messages WHERE id = ANY($1::uuid[])`, [ids])).map((r) => r.id);
    expect((await stored()).sort()).toEqual([...ids].sort());

    await waitPast(viaExpiry.expiresAt);
    const deadline = Date.now() + 5_000;
    while ((await stored()).length > 1 && Date.now() < deadline) await sleep(100);
    expect(await stored()).toEqual([kept.messageId]);
    const { messages } = await alice.messaging.listMessages({ chatId: kept.chatId, direction: Direction.FORWARD });
    expect(seqsOf(messages)).toEqual([1, 2]);
  });
});
