import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { MessageSchema } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { SendResultSchema, type ServerFrame, ServerFrameSchema, SubscribeResponseSchema } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import { HEADER_BYTES } from "./envelopes.js";
import { encodeFrameEnvelope } from "./frame-encoding.js";

const reference = (frame: ServerFrame) => Buffer.from(toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { frame }))).toString("hex");
/** The frame's encoding without its envelope (what toBinary gives for SubscribeResponse). */
const ours = (frame: ServerFrame) => encodeFrameEnvelope(frame).subarray(HEADER_BYTES).toString("hex");

const messageInit = {
  messageId: "6f1c1b2e-0000-4000-8000-000000000001",
  chatId: "6f1c1b2e-0000-4000-8000-000000000002",
  seq: 42n,
  senderCyphrId: "alice",
  messageType: 1,
  payload: { ciphertext: new Uint8Array(300).fill(7), nonce: new Uint8Array(24).fill(1), tag: new Uint8Array(16).fill(2) },
  createdAt: timestampFromMs(1_800_000_000_123),
};
const message = create(MessageSchema, messageInit);

const CURSORS = [0n, 1n, 127n, 128n, 300n, 2n ** 32n + 5n, BigInt(Number.MAX_SAFE_INTEGER), 2n ** 63n - 1n, 2n ** 64n - 1n];
const TIMES: (Timestamp | undefined)[] = [
  undefined,
  timestampFromMs(0),
  timestampFromMs(999),
  timestampFromMs(1_800_000_000_999),
  create(SubscribeResponseSchema).frame?.time, // undefined again, through a created message
  { $typeName: "google.protobuf.Timestamp", seconds: -5n, nanos: 0 },
  { $typeName: "google.protobuf.Timestamp", seconds: 2n ** 62n, nanos: 999_999_999 },
];

describe("encodeFrameEnvelope", () => {
  it("encodes message frames byte for byte as toBinary does, for every message case, cursor and time", () => {
    for (const kind of ["messageNew", "messageEdited", "messageDeleted"] as const) {
      for (const cursor of CURSORS) {
        for (const time of TIMES) {
          const frame = create(ServerFrameSchema, { cursor, time, event: { case: kind, value: message } });
          expect(ours(frame), `${kind} ${cursor} ${time?.seconds}`).toBe(reference(frame));
        }
      }
    }
  });

  it("encodes chat messages byte for byte as toBinary does: payloads, times, tombstones, system messages and receipts", () => {
    const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
    const variants = [
      {},
      { messageId: "m", seq: 1n },
      { ...messageInit, payload: undefined },
      { ...messageInit, payload: {} },
      {
        ...messageInit,
        payload: { kemCiphertext: bytes(1088, 9), ciphertext: bytes(200_000, 3), nonce: bytes(24, 1), tag: bytes(16, 2), header: bytes(33, 4) },
      },
      {
        ...messageInit,
        senderUserId: "6f1c1b2e-0000-4000-8000-00000000000c",
        senderCyphrId: "ünï_✓",
        clientMessageId: "6f1c1b2e-0000-4000-8000-00000000000d",
        messageType: 0,
      },
      { ...messageInit, editedAt: timestampFromMs(1_800_000_001_000), expiresAt: timestampFromMs(1_800_086_400_000) },
      { ...messageInit, payload: undefined, deleted: true, deletedAt: timestampFromMs(1_800_000_002_000) },
      { ...messageInit, seq: 2n ** 60n, messageType: 7 },
      { ...messageInit, seq: 2n ** 64n - 1n },
      { ...messageInit, messageType: -1 },
      { ...messageInit, createdAt: { $typeName: "google.protobuf.Timestamp" as const, seconds: -100n, nanos: 5 } },
      { ...messageInit, payload: undefined, messageType: 5, systemEvent: { kind: 2, actorUserId: "u", actorCyphrId: "a", targetCyphrId: "t" } },
      { ...messageInit, receipts: { deliveredCount: 2, readCount: 1 } },
    ];
    for (const [i, variant] of variants.entries()) {
      const value = create(MessageSchema, variant);
      for (const kind of ["messageNew", "messageDeleted"] as const) {
        const frame = create(ServerFrameSchema, { cursor: 3n, time: timestampFromMs(7), event: { case: kind, value } });
        expect(ours(frame), `variant ${i} ${kind}`).toBe(reference(frame));
      }
    }
  });

  it("encodes send_result frames byte for byte as toBinary does: answers, errors, retries, odd strings and numbers", () => {
    const responses = [
      undefined,
      {},
      {
        messageId: "6f1c1b2e-0000-4000-8000-000000000009",
        chatId: "6f1c1b2e-0000-4000-8000-00000000000a",
        seq: 1n,
        serverTime: timestampFromMs(1_800_000_000_500),
      },
      { messageId: "m", chatId: "c", seq: 2n ** 40n, serverTime: timestampFromMs(0), expiresAt: timestampFromMs(1_900_000_000_001), duplicate: true },
      { messageId: "m", seq: 2n ** 64n - 1n },
      { messageId: "m", serverTime: { $typeName: "google.protobuf.Timestamp" as const, seconds: -1n, nanos: 0 } },
    ];
    const errors = [
      undefined,
      {},
      { code: 8, message: "slow down: ✓ ünïcode", retryAfterMs: 1500 },
      { code: 3, message: "x".repeat(300) },
      { code: -2, message: "negative" },
    ];
    for (const requestId of ["", "r1", "ü".repeat(64)]) {
      for (const clientMessageId of ["", "6f1c1b2e-0000-4000-8000-00000000000b"]) {
        for (const response of responses) {
          for (const error of errors) {
            for (const cursor of [0n, 7n]) {
              const frame = create(ServerFrameSchema, {
                cursor,
                time: cursor ? timestampFromMs(5) : undefined,
                event: { case: "sendResult", value: { requestId, clientMessageId, response, error } },
              });
              expect(
                ours(frame),
                JSON.stringify({ requestId, clientMessageId, response, error, cursor }, (_k, v) => (typeof v === "bigint" ? String(v) : v)),
              ).toBe(reference(frame));
            }
          }
        }
      }
    }
  });

  it("values the fast path does not write (negative, fractional, past int32, unknown fields) are left to toBinary: the same bytes, or the same refusal", () => {
    const unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    const withUnknown = { ...create(MessageSchema, messageInit), $unknown: unknown };
    const frames = [
      create(ServerFrameSchema, { cursor: -1n, event: { case: "messageNew", value: message } }),
      create(ServerFrameSchema, { cursor: 1n, event: { case: "messageNew", value: create(MessageSchema, { ...messageInit, seq: -1n }) } }),
      create(ServerFrameSchema, { cursor: 1n, event: { case: "messageNew", value: create(MessageSchema, { ...messageInit, messageType: 2 ** 31 }) } }),
      create(ServerFrameSchema, { cursor: 1n, event: { case: "messageNew", value: withUnknown } }),
      create(ServerFrameSchema, {
        cursor: 1n,
        time: { $typeName: "google.protobuf.Timestamp", seconds: 5n, nanos: 2 ** 31 },
        event: { case: "messageNew", value: message },
      }),
      { ...create(ServerFrameSchema, { cursor: 2n, event: { case: "messageNew", value: message } }), $unknown: unknown },
      ...[1.5, -1, 2 ** 32].map((retryAfterMs) =>
        create(ServerFrameSchema, { event: { case: "sendResult", value: { requestId: "r", error: { code: 8, retryAfterMs } } } }),
      ),
      create(ServerFrameSchema, { event: { case: "sendResult", value: { requestId: "r", response: { messageId: "m", seq: -5n } } } }),
      create(ServerFrameSchema, { event: { case: "sendResult", value: { requestId: "r", error: { code: 2.5 } } } }),
      create(ServerFrameSchema, { event: { case: "sendResult", value: { ...create(SendResultSchema, { requestId: "r" }), $unknown: unknown } } }),
    ];
    for (const [i, frame] of frames.entries()) {
      let expected: string | Error;
      try {
        expected = reference(frame);
      } catch (error) {
        expected = error as Error;
      }
      if (expected instanceof Error) expect(() => ours(frame), `frame ${i}`).toThrow();
      else expect(ours(frame), `frame ${i}`).toBe(expected);
    }
  });

  it("puts the encoding in the envelope every protocol uses (flags 0, big-endian length), and it decodes", () => {
    const frame = create(ServerFrameSchema, { cursor: 5n, event: { case: "sendResult", value: { requestId: "r", response: { messageId: "m", seq: 9n } } } });
    const enveloped = encodeFrameEnvelope(frame);
    expect(enveloped[0]).toBe(0);
    expect(enveloped.readUInt32BE(1)).toBe(enveloped.length - 5);
    expect(fromBinary(SubscribeResponseSchema, enveloped.subarray(5)).frame).toEqual(frame);
  });

  it("reuses one Message's encoding across frames (the same bytes for every recipient's frame but the cursor)", () => {
    const a = create(ServerFrameSchema, { cursor: 5n, event: { case: "messageNew", value: message } });
    const b = create(ServerFrameSchema, { cursor: 6n, event: { case: "messageNew", value: message } });
    expect(ours(a)).toBe(reference(a));
    expect(ours(b)).toBe(reference(b));
  });

  it("encodes every other frame whole", () => {
    const heartbeat = create(ServerFrameSchema, { time: timestampFromMs(5), event: { case: "heartbeat", value: {} } });
    const caughtUp = create(ServerFrameSchema, { event: { case: "caughtUp", value: { cursor: 9n, resyncRequired: true } } });
    for (const frame of [heartbeat, caughtUp]) expect(ours(frame)).toBe(reference(frame));
  });
});
