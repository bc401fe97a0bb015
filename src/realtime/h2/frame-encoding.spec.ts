import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { MessageSchema } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { type ServerFrame, ServerFrameSchema, SubscribeResponseSchema } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import { encodeFrameResponse } from "./frame-encoding.js";

const reference = (frame: ServerFrame) => toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { frame }));

const message = create(MessageSchema, {
  messageId: "6f1c1b2e-0000-4000-8000-000000000001",
  chatId: "6f1c1b2e-0000-4000-8000-000000000002",
  seq: 42n,
  senderCyphrId: "alice",
  messageType: 1,
  payload: { ciphertext: new Uint8Array(300).fill(7), nonce: new Uint8Array(24).fill(1), tag: new Uint8Array(16).fill(2) },
  createdAt: timestampFromMs(1_800_000_000_123),
});

describe("encodeFrameResponse", () => {
  it("encodes message frames byte for byte as toBinary does, for every message case, cursor and time", () => {
    for (const kind of ["messageNew", "messageEdited", "messageDeleted"] as const) {
      for (const cursor of [0n, 1n, 300n, 2n ** 63n - 1n]) {
        for (const time of [undefined, timestampFromMs(0), timestampFromMs(1_800_000_000_999)]) {
          const frame = create(ServerFrameSchema, { cursor, time, event: { case: kind, value: message } });
          expect(Buffer.from(encodeFrameResponse(frame)).toString("hex"), `${kind} ${cursor} ${time?.seconds}`).toBe(
            Buffer.from(reference(frame)).toString("hex"),
          );
        }
      }
    }
  });

  it("reuses one Message's encoding across frames (the same bytes for every recipient's frame but the cursor)", () => {
    const a = create(ServerFrameSchema, { cursor: 5n, event: { case: "messageNew", value: message } });
    const b = create(ServerFrameSchema, { cursor: 6n, event: { case: "messageNew", value: message } });
    expect(encodeFrameResponse(a)).toEqual(reference(a));
    expect(encodeFrameResponse(b)).toEqual(reference(b));
  });

  it("encodes every other frame whole", () => {
    const heartbeat = create(ServerFrameSchema, { time: timestampFromMs(5), event: { case: "heartbeat", value: {} } });
    const caughtUp = create(ServerFrameSchema, { event: { case: "caughtUp", value: { cursor: 9n, resyncRequired: true } } });
    for (const frame of [heartbeat, caughtUp]) expect(encodeFrameResponse(frame)).toEqual(reference(frame));
  });
});
