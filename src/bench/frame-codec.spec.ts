import type { MessageInitShape } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { MessageType, SendMessageRequestSchema } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import { ConnectRequestSchema, ConnectResponseSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { encodeSendConstant, envelopedHello, envelopedSendFrame, envelopedSendRequest, FrameEvent, readServerFrame } from "./frame-codec.js";

const payload = { ciphertext: new Uint8Array(600).fill(7), nonce: new Uint8Array(24).fill(1), tag: new Uint8Array(16).fill(2) };
const chat = { case: "chatId" as const, value: "7f0d3c1e-3b1a-4a52-9d55-0c8f1f3f9e01" };

/** The envelope's message, after checking its header: flags 0 and the exact length. */
function body(enveloped: Buffer): Uint8Array {
  expect(enveloped[0]).toBe(0);
  expect(enveloped.readUInt32BE(1)).toBe(enveloped.length - 5);
  return new Uint8Array(enveloped.subarray(5)); // a plain Uint8Array, so decoded bytes compare equal to the inputs
}

const response = (event: MessageInitShape<typeof ConnectResponseSchema>["frame"]) =>
  toBinary(ConnectResponseSchema, create(ConnectResponseSchema, { frame: event }));

describe("load-generator request encoders", () => {
  it("a send_message frame decodes to the ConnectRequest toBinary would have sent", () => {
    // Long ids and a large payload make every length prefix take more than one byte.
    const big = { ...payload, ciphertext: new Uint8Array(70_000).fill(9) };
    for (const [p, requestId, id] of [
      [payload, "1", "a"],
      [big, "r".repeat(200), "ü".repeat(150)],
    ] as const) {
      const got = fromBinary(ConnectRequestSchema, body(envelopedSendFrame(encodeSendConstant(chat, p), requestId, id)));
      const want = create(ConnectRequestSchema, {
        frame: { requestId, frame: { case: "sendMessage", value: { destination: chat, clientMessageId: id, payload: p, messageType: MessageType.TEXT } } },
      });
      expect(got).toEqual(want);
    }
  });

  it("a unary request decodes to the SendMessageRequest toBinary would have sent", () => {
    const got = fromBinary(SendMessageRequestSchema, body(envelopedSendRequest(encodeSendConstant(chat, payload), "m-1")));
    expect(got).toEqual(create(SendMessageRequestSchema, { destination: chat, clientMessageId: "m-1", payload, messageType: MessageType.TEXT }));
  });

  it("hello carries the resume cursor when one is given", () => {
    const hello = (cursor?: bigint) => fromBinary(ConnectRequestSchema, body(envelopedHello(cursor))).frame?.frame;
    expect(hello(42n)).toMatchObject({ case: "hello", value: { resumeCursor: 42n } });
    expect(hello()?.case).toBe("hello");
    expect((hello()?.value as { resumeCursor?: bigint } | undefined)?.resumeCursor).toBeUndefined();
  });
});

describe("readServerFrame", () => {
  it("reads a message_new frame's kind and client_message_id, past every other field", () => {
    const frame: MessageInitShape<typeof ConnectResponseSchema>["frame"] = {
      cursor: 2n ** 40n,
      time: timestampNow(),
      event: {
        case: "messageNew",
        value: {
          messageId: "m",
          chatId: chat.value,
          seq: 9n,
          senderUserId: "u",
          senderCyphrId: "alice",
          clientMessageId: "c-42",
          messageType: MessageType.TEXT,
          payload,
          createdAt: timestampNow(),
        },
      },
    };
    expect(readServerFrame(response(frame))).toMatchObject({ event: FrameEvent.messageNew, clientMessageId: "c-42" });
  });

  it("reads a send_result's request id and, when the send failed, its status", () => {
    const ok = response({ event: { case: "sendResult", value: { requestId: "17", clientMessageId: "c-1", response: { chatId: chat.value, seq: 3n } } } });
    expect(readServerFrame(ok)).toMatchObject({ event: FrameEvent.sendResult, requestId: "17", clientMessageId: "c-1", failed: false });
    const refused = response({
      event: { case: "sendResult", value: { requestId: "18", error: { code: Code.ResourceExhausted, message: "slow down", retryAfterMs: 50 } } },
    });
    expect(readServerFrame(refused)).toMatchObject({
      event: FrameEvent.sendResult,
      requestId: "18",
      failed: true,
      errorCode: Code.ResourceExhausted,
      errorMessage: "slow down",
    });
  });

  it("names every other event by its field number, so callers can tell caught_up from the rest", () => {
    const cases: [MessageInitShape<typeof ConnectResponseSchema>["frame"], number][] = [
      [{ cursor: 5n, event: { case: "caughtUp", value: { cursor: 5n } } }, 13],
      [{ event: { case: "heartbeat", value: {} } }, 12],
      [{ cursor: 6n, event: { case: "presence", value: { userId: "u", cyphrId: "bob", online: true } } }, 10],
    ];
    for (const [frame, field] of cases) expect(readServerFrame(response(frame))).toMatchObject({ event: field, clientMessageId: "", failed: false });
    expect(FrameEvent.caughtUp).toBe(13);
  });
});
