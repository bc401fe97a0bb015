import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Direction } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { queryDatabase } from "./helpers/database.js";
import { type Participant, participants, sendTo, seqsOf } from "./helpers/messaging.js";
import { closeAllStreams, connectEsConnect, grpcJsConnect, realtimeClient, subscribe } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Seqs and cursors are uint64 on the wire and int8 in PostgreSQL. Every one a client sends
 * (ListMessages cursor_seq, MarkDelivered/MarkRead up_to_seq, ack frames on streams and
 * through Publish, resume_cursor) is taken exactly up to 2^63 − 1, the largest int8, and
 * refused above it with INVALID_ARGUMENT naming the field: never a database error, never
 * a value rounded on its way to SQL.
 */

const INT8_MAX = 2n ** 63n - 1n;
const ABOVE_INT8 = [2n ** 63n, 2n ** 64n - 1n];

let server: TestServer;
let alice: Participant;
let bob: Participant;
let chatId: string;

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob] = await participants(server.baseUrl, 2);
  for (let i = 0; i < 3; i++) chatId = (await sendTo(alice, bob)).chatId;
});
afterEach(closeAllStreams);
afterAll(() => server.close());

describe("ListMessages cursor_seq", () => {
  it("2^63 − 1 is an exact bound: BACKWARD returns the newest messages, FORWARD none", async () => {
    const backward = await bob.messaging.listMessages({ chatId, cursorSeq: INT8_MAX, direction: Direction.BACKWARD });
    expect(seqsOf(backward.messages)).toEqual([3, 2, 1]);
    expect(backward.nextCursorSeq).toBe(0n);
    const forward = await bob.messaging.listMessages({ chatId, cursorSeq: INT8_MAX, direction: Direction.FORWARD });
    expect(forward.messages).toEqual([]);
  });

  it.each(ABOVE_INT8)("%s is refused with INVALID_ARGUMENT naming cursor_seq and the exact value", async (cursorSeq) => {
    for (const direction of [Direction.BACKWARD, Direction.FORWARD]) {
      await expectRpcError(
        bob.messaging.listMessages({ chatId, cursorSeq, direction }),
        Code.InvalidArgument,
        `cursor_seq must be between 0 and ${INT8_MAX}, got ${cursorSeq}`,
      );
    }
  });
});

describe("MarkDelivered and MarkRead up_to_seq", () => {
  it.each(ABOVE_INT8)("%s is refused by the unary calls and by receipt frames, naming the exact value", async (upToSeq) => {
    const message = `up_to_seq must be between 0 and ${INT8_MAX}, got ${upToSeq}`;
    await expectRpcError(bob.messaging.markDelivered({ chatId, upToSeq }), Code.InvalidArgument, message);
    await expectRpcError(bob.messaging.markRead({ chatId, upToSeq }), Code.InvalidArgument, message);

    const stream = connectEsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    await stream.caughtUp();
    stream.send({ requestId: "r1", frame: { case: "markRead", value: { chatId, upToSeq } } });
    const { value } = await stream.take("receiptResult");
    expect(value.error).toMatchObject({ code: Code.InvalidArgument, message });
  });

  it("2^63 − 1 is compared exactly: beyond the chat's last seq, quoted as sent", async () => {
    await expectRpcError(
      bob.messaging.markRead({ chatId, upToSeq: INT8_MAX }),
      Code.InvalidArgument,
      `up_to_seq ${INT8_MAX} is beyond the last message you can see (seq 3)`,
    );
  });
});

describe("ack frames", () => {
  it.each(ABOVE_INT8)("%s on a stream answers frame_error INVALID_ARGUMENT naming ack.cursor; the stream goes on", async (cursor) => {
    const stream = connectEsConnect(server.baseUrl, bob.accessToken, { resumeCursor: 0 });
    await stream.caughtUp();
    stream.send({ requestId: "a1", frame: { case: "ack", value: { cursor } } });
    const { value } = await stream.take("frameError");
    expect(value).toMatchObject({
      requestId: "a1",
      error: { code: Code.InvalidArgument, message: `ack.cursor must be between 0 and ${INT8_MAX}, got ${cursor}` },
    });
    stream.heartbeat();
    await sendTo(alice, bob);
    await stream.take("messageNew");
    expect(stream.isEnded).toBe(false);
  });

  it.each(ABOVE_INT8)("%s through Publish is refused with INVALID_ARGUMENT naming ack.cursor", async (cursor) => {
    await expectRpcError(
      realtimeClient(server.baseUrl, bob.accessToken).publish({ frame: { frame: { case: "ack", value: { cursor } } } }),
      Code.InvalidArgument,
      `ack.cursor must be between 0 and ${INT8_MAX}, got ${cursor}`,
    );
  });

  it("2^63 − 1 is accepted, on a stream and through Publish, and stores the user's last cursor", async () => {
    const [carol, dave] = await participants(server.baseUrl, 2);
    for (let i = 0; i < 4; i++) await sendTo(carol, dave);
    const acked = async () =>
      (await queryDatabase<{ acked_cursor: string }>(server.databaseUrl, "SELECT acked_cursor FROM sessions WHERE id = $1", [dave.sessionId]))[0]!.acked_cursor;

    const stream = grpcJsConnect(server.baseUrl, dave.accessToken, { resumeCursor: 0 });
    expect(await stream.caughtUp()).toBe(4);
    stream.ack(INT8_MAX);
    stream.heartbeat();
    // Acks are written coalesced, within ACK_FLUSH_MS.
    await expect.poll(acked, { timeout: 5000 }).toBe("4");
    expect(stream.all("frameError")).toEqual([]);

    await sendTo(carol, dave);
    expect(
      (await realtimeClient(server.baseUrl, dave.accessToken).publish({ frame: { frame: { case: "ack", value: { cursor: INT8_MAX } } } })).result,
    ).toBeUndefined();
    await expect.poll(acked, { timeout: 5000 }).toBe("5");
  });
});

describe("resume_cursor", () => {
  it.each(ABOVE_INT8)("%s in a Connect hello ends the stream with INVALID_ARGUMENT naming resume_cursor", async (resumeCursor) => {
    const stream = connectEsConnect(server.baseUrl, bob.accessToken, { resumeCursor });
    expect(await stream.end()).toEqual({ code: Code.InvalidArgument, message: `resume_cursor must be between 0 and ${INT8_MAX}, got ${resumeCursor}` });
    expect(stream.durable()).toEqual([]);
  });

  it.each(ABOVE_INT8)("%s in a Subscribe request ends the stream with INVALID_ARGUMENT naming resume_cursor", async (resumeCursor) => {
    const stream = subscribe(server.baseUrl, bob.accessToken, { resumeCursor });
    expect(await stream.end()).toEqual({ code: Code.InvalidArgument, message: `resume_cursor must be between 0 and ${INT8_MAX}, got ${resumeCursor}` });
  });

  it("2^63 − 1 is a cursor from the future: caught_up at the user's last cursor with resync_required", async () => {
    for (const stream of [
      connectEsConnect(server.baseUrl, bob.accessToken, { resumeCursor: INT8_MAX }),
      subscribe(server.baseUrl, bob.accessToken, { resumeCursor: INT8_MAX }),
    ]) {
      const { value } = await stream.take("caughtUp");
      expect(value.resyncRequired).toBe(true);
      expect(value.cursor).toBeGreaterThanOrEqual(3n);
      expect(value.cursor).toBeLessThan(2n ** 53n);
      expect(stream.durable()).toEqual([]);
    }
  });
});
