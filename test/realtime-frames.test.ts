import { randomBytes, randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SendMessageResponse } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { MessageType, type SendMessageRequestSchema, SystemEventKind } from "../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { createGroupOf, type Participant, participants, randomPayload, sendInChat, sendTo } from "./helpers/messaging.js";
import { closeAllStreams, grpcJsConnect, type RealtimeStream, realtimeClient } from "./helpers/realtime.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Client frames on a bidi Connect stream (the fast path for sends and receipts) and the
 * same frames through Publish: each goes through the same use case as the unary RPC, so
 * results, errors and idempotency are identical.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { MESSAGE_MAX_BYTES: "4096" } });
});
afterEach(closeAllStreams);
afterAll(() => server.close());

async function online(user: Participant, on: TestServer = server): Promise<RealtimeStream> {
  const stream = grpcJsConnect(on.baseUrl, user.accessToken);
  await stream.caughtUp();
  return stream;
}

type SendInit = MessageInitShape<typeof SendMessageRequestSchema>;

/** Sends on the stream and waits for the send_result answering it. */
async function sendFrame(stream: RealtimeStream, request: SendInit) {
  const requestId = randomUUID();
  stream.send({ requestId, frame: { case: "sendMessage", value: request } });
  return (await stream.take("sendResult", (r) => r.requestId === requestId)).value;
}

/** What a SendMessageResponse says, comparable across the stream and unary calls. */
const sendOutcome = (r: SendMessageResponse) => ({
  messageId: r.messageId,
  chatId: r.chatId,
  seq: r.seq,
  serverTime: timestampDate(r.serverTime!).toISOString(),
  expiresAt: r.expiresAt ? timestampDate(r.expiresAt).toISOString() : undefined,
  duplicate: r.duplicate,
});

describe("send_message frames", () => {
  it("answer with the send_result unary SendMessage gives; a retry with the same client_message_id is a duplicate of the same message", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const [aliceStream, bobStream] = await Promise.all([online(alice), online(bob)]);
    const clientMessageId = randomUUID();
    const request = {
      destination: { case: "recipientCyphrId" as const, value: bob.cyphrId },
      clientMessageId,
      payload: randomPayload(),
      messageType: MessageType.TEXT,
      expiresInSeconds: 600,
    };

    const first = await sendFrame(aliceStream, request);
    expect(first.clientMessageId).toBe(clientMessageId);
    expect(first.error).toBeUndefined();
    expect(first.response).toMatchObject({ seq: 1n, duplicate: false });

    const unaryRetry = await alice.messaging.sendMessage(request);
    expect(sendOutcome(unaryRetry)).toEqual({ ...sendOutcome(first.response!), duplicate: true });
    const frameRetry = await sendFrame(aliceStream, { ...request, destination: { case: "chatId", value: first.response!.chatId } });
    expect(sendOutcome(frameRetry.response!)).toEqual({ ...sendOutcome(first.response!), duplicate: true });

    const delivered = await bobStream.take("messageNew");
    expect(delivered.value).toMatchObject({ messageId: first.response!.messageId, clientMessageId, senderUserId: alice.userId });
    expect(await bobStream.quiet("messageNew", 200)).toEqual([]);
  });

  it("that fail carry, as a Status, exactly the error unary SendMessage fails with", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    const { chatId: carolsChat } = await sendTo(carol, bob);
    const aliceStream = await online(alice);
    const valid = { destination: { case: "recipientCyphrId" as const, value: bob.cyphrId }, payload: randomPayload(), messageType: MessageType.TEXT };
    const cases: Record<string, SendInit> = {
      "a client_message_id that is not a UUID": { ...valid, clientMessageId: "not-a-uuid" },
      "no payload": { ...valid, clientMessageId: randomUUID(), payload: undefined },
      "an empty ciphertext": { ...valid, clientMessageId: randomUUID(), payload: { ...randomPayload(), ciphertext: new Uint8Array() } },
      "a payload over MESSAGE_MAX_BYTES": { ...valid, clientMessageId: randomUUID(), payload: randomPayload(5000) },
      "the SYSTEM message type": { ...valid, clientMessageId: randomUUID(), messageType: MessageType.SYSTEM },
      "no destination": { ...valid, clientMessageId: randomUUID(), destination: { case: undefined } },
      "an unknown recipient": { ...valid, clientMessageId: randomUUID(), destination: { case: "recipientCyphrId", value: "nobody_here_123" } },
      "the sender's own Cyphr ID": { ...valid, clientMessageId: randomUUID(), destination: { case: "recipientCyphrId", value: alice.cyphrId } },
      "someone else's chat": { ...valid, clientMessageId: randomUUID(), destination: { case: "chatId", value: carolsChat } },
      "an expiry over a year": { ...valid, clientMessageId: randomUUID(), expiresInSeconds: 31_536_001 },
    };
    for (const [name, request] of Object.entries(cases)) {
      const unary = await alice.messaging.sendMessage(request).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(unary, name).toBeInstanceOf(ConnectError);
      const result = await sendFrame(aliceStream, request);
      expect({
        case: name,
        clientMessageId: result.clientMessageId,
        response: result.response,
        code: Code[result.error!.code],
        message: result.error!.message,
      }).toEqual({
        case: name,
        clientMessageId: request.clientMessageId,
        response: undefined,
        code: Code[unary!.code],
        message: unary!.rawMessage,
      });
    }
    expect(aliceStream.isEnded).toBe(false);
  });

  it("keep their order within a chat when sent back to back", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const aliceStream = await online(alice);
    const requestIds = Array.from({ length: 40 }, (_, i) => `send-${i}`);
    for (const requestId of requestIds) {
      aliceStream.send({
        requestId,
        frame: { case: "sendMessage", value: { destination: { case: "chatId", value: chatId }, clientMessageId: randomUUID(), payload: randomPayload() } },
      });
    }
    const results = await aliceStream.count("sendResult", 40);
    const seqByRequest = new Map(
      results.map((f) => [(f.event.value as { requestId: string }).requestId, (f.event.value as { response?: { seq: bigint } }).response?.seq]),
    );
    expect(requestIds.map((id) => Number(seqByRequest.get(id)))).toEqual(requestIds.map((_, i) => i + 2));
  });

  it("that hit the send rate limit carry RESOURCE_EXHAUSTED with retry_after_ms, as unary sends do", async () => {
    const limited = await startTestServer({ env: { SEND_RATE_PER_SECOND: "1", SEND_BURST: "2" } });
    try {
      const [alice, bob] = await participants(limited.baseUrl, 2);
      const aliceStream = await online(alice, limited);
      const send = () =>
        sendFrame(aliceStream, { destination: { case: "recipientCyphrId", value: bob.cyphrId }, clientMessageId: randomUUID(), payload: randomPayload() });
      expect((await send()).error).toBeUndefined();
      expect((await send()).error).toBeUndefined();
      const limitedResult = await send();
      expect(limitedResult.error).toMatchObject({ code: Code.ResourceExhausted, message: expect.stringContaining("send rate limit exceeded") });
      expect(limitedResult.error!.retryAfterMs).toBeGreaterThan(0);
      expect(limitedResult.error!.retryAfterMs).toBeLessThanOrEqual(1000);
      const unary = await expectRpcError(sendTo(alice, bob), Code.ResourceExhausted, "send rate limit exceeded");
      expect(Number(unary.metadata.get("retry-after-ms"))).toBeGreaterThan(0);
    } finally {
      await closeAllStreams();
      await limited.close();
    }
  });
});

describe("receipt frames", () => {
  it("mark_delivered and mark_read answer with receipt_result holding the unary calls' positions and errors", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    for (let i = 0; i < 3; i++) await sendInChat(alice, chatId);
    const bobStream = await online(bob);

    bobStream.send({ requestId: "d3", frame: { case: "markDelivered", value: { chatId, upToSeq: 3n } } });
    const delivered = (await bobStream.take("receiptResult", (r) => r.requestId === "d3")).value;
    expect(delivered).toMatchObject({ deliveredSeq: 3n, readSeq: 0n });
    expect(delivered.error).toBeUndefined();
    bobStream.send({ requestId: "r2", frame: { case: "markRead", value: { chatId, upToSeq: 2n } } });
    expect((await bobStream.take("receiptResult", (r) => r.requestId === "r2")).value).toMatchObject({ deliveredSeq: 3n, readSeq: 2n });
    // The unary call sees the same stored positions (and never moves them back).
    expect(await bob.messaging.markRead({ chatId, upToSeq: 1n })).toMatchObject({ deliveredSeq: 3n, readSeq: 2n });

    const unary = await expectRpcError(bob.messaging.markRead({ chatId, upToSeq: 9n }), Code.InvalidArgument, "up_to_seq 9");
    bobStream.send({ requestId: "r9", frame: { case: "markRead", value: { chatId, upToSeq: 9n } } });
    const failed = (await bobStream.take("receiptResult", (r) => r.requestId === "r9")).value;
    expect(failed.error).toMatchObject({ code: Code.InvalidArgument, message: unary.rawMessage });
  });
});

describe("Publish", () => {
  it("answers send_message and mark_read with the result frame a stream would have sent", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const aliceStream = await online(alice);
    const publish = realtimeClient(server.baseUrl, alice.accessToken);
    const clientMessageId = randomUUID();
    const request = { destination: { case: "recipientCyphrId" as const, value: bob.cyphrId }, clientMessageId, payload: randomPayload() };

    const { result } = await publish.publish({ frame: { requestId: "p1", frame: { case: "sendMessage", value: request } } });
    expect(result?.cursor).toBe(0n);
    if (result?.event.case !== "sendResult") throw new Error(`expected send_result, got ${result?.event.case}`);
    expect(result.event.value).toMatchObject({ requestId: "p1", clientMessageId, response: { seq: 1n, duplicate: false } });
    expect(result.event.value.error).toBeUndefined();
    const onStream = await sendFrame(aliceStream, request);
    expect(sendOutcome(onStream.response!)).toEqual({ ...sendOutcome(result.event.value.response!), duplicate: true });

    const bobPublish = realtimeClient(server.baseUrl, bob.accessToken, "grpc-web");
    const read = await bobPublish.publish({
      frame: { requestId: "p2", frame: { case: "markRead", value: { chatId: onStream.response!.chatId, upToSeq: 1n } } },
    });
    expect(read.result?.event).toMatchObject({ case: "receiptResult", value: { requestId: "p2", deliveredSeq: 1n, readSeq: 1n } });
    const failedSend = await publish.publish({ frame: { requestId: "p3", frame: { case: "sendMessage", value: { ...request, clientMessageId: "x" } } } });
    expect(failedSend.result?.event).toMatchObject({ case: "sendResult", value: { requestId: "p3", error: { code: Code.InvalidArgument } } });
  });

  it("returns no result for acks, heartbeats and typing, and fails the call for frames that fail", async () => {
    const [alice, bob, carol] = await participants(server.baseUrl, 3);
    const { chatId } = await sendTo(alice, bob);
    const publish = realtimeClient(server.baseUrl, alice.accessToken);
    expect((await publish.publish({ frame: { frame: { case: "heartbeat", value: {} } } })).result).toBeUndefined();
    expect((await publish.publish({ frame: { frame: { case: "typing", value: { chatId, typing: true } } } })).result).toBeUndefined();
    expect((await publish.publish({ frame: { frame: { case: "ack", value: { cursor: 1n } } } })).result).toBeUndefined();

    await expectRpcError(publish.publish({ frame: { frame: { case: "hello", value: {} } } }), Code.InvalidArgument, "hello is only allowed as the first frame");
    await expectRpcError(publish.publish({ frame: { frame: { case: undefined } } }), Code.InvalidArgument, "frame is empty");
    await expectRpcError(publish.publish({}), Code.InvalidArgument, "frame is required");
    await expectRpcError(
      publish.publish({ frame: { requestId: "x".repeat(65), frame: { case: "heartbeat", value: {} } } }),
      Code.InvalidArgument,
      "request_id must be at most 64 characters",
    );
    await expectRpcError(
      realtimeClient(server.baseUrl, carol.accessToken).publish({ frame: { frame: { case: "typing", value: { chatId, typing: true } } } }),
      Code.NotFound,
      `chat ${chatId} not found`,
    );
    await expectRpcError(
      realtimeClient(server.baseUrl, "").publish({ frame: { frame: { case: "heartbeat", value: {} } } }),
      Code.Unauthenticated,
      "authorization",
    );
  });
});

describe("group membership", () => {
  it("a removed member stops receiving the group's messages and typing at once, and may no longer type there", async () => {
    const [admin, bob, carol] = await participants(server.baseUrl, 3);
    const chatId = await createGroupOf(admin, [bob, carol]);
    const [adminStream, carolStream] = await Promise.all([online(admin), online(carol)]);
    await sendInChat(bob, chatId);
    await carolStream.take("messageNew");

    await admin.groups.removeMember({ chatId, cyphrId: carol.cyphrId });
    const after = await sendInChat(bob, chatId);
    await realtimeClient(server.baseUrl, bob.accessToken).publish({ frame: { frame: { case: "typing", value: { chatId, typing: true } } } });
    // The admin hears both; by then carol would have too.
    await adminStream.take("messageNew", (m) => m.messageId === after.messageId);
    await adminStream.take("typing", (t) => t.userId === bob.userId);

    const removed = await carolStream.take("groupChanged", (c) => c.change?.kind === SystemEventKind.MEMBER_REMOVED);
    expect(removed.value.change).toMatchObject({ kind: SystemEventKind.MEMBER_REMOVED, targetUserId: carol.userId });
    expect(await carolStream.quiet("messageNew", 300)).toEqual([]);
    expect(carolStream.all("typing")).toEqual([]);

    carolStream.typing(chatId, true);
    const refused = (await carolStream.take("frameError")).value;
    expect(refused.error).toMatchObject({ code: Code.PermissionDenied, message: "you are no longer a member of this group" });
    expect(carolStream.isEnded).toBe(false);
  });
});

it("an oversized request_id on a stream frame is answered with frame_error INVALID_ARGUMENT", async () => {
  const [alice] = await participants(server.baseUrl, 1);
  const stream = await online(alice);
  stream.send({ requestId: "r".repeat(65), frame: { case: "ack", value: { cursor: 0n } } });
  expect((await stream.take("frameError")).value.error).toMatchObject({ code: Code.InvalidArgument, message: "request_id must be at most 64 characters" });
  stream.send({
    requestId: "ok",
    frame: {
      case: "sendMessage",
      value: { destination: { case: "chatId", value: randomBytes(4).toString("hex") }, clientMessageId: randomUUID(), payload: randomPayload() },
    },
  });
  expect((await stream.take("sendResult")).value).toMatchObject({ requestId: "ok", error: { code: Code.InvalidArgument } });
});
