import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { type Message, MessageSchema } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { type ServerFrame, SubscribeResponseSchema } from "../../gen/cyphr/realtime/v1/realtime_pb.js";

/** ServerFrame field numbers (realtime.proto). */
const CURSOR = 1;
const TIME = 2;
const MESSAGE_CASES = { messageNew: 3, messageEdited: 4, messageDeleted: 5 } as const;

/**
 * Encoded Messages, by the Message object: every recipient's frame of one notice shares its
 * Message (src/delivery/durable-frames.ts), so a message fanned out to N streams is encoded once, not
 * N times. Weak: an entry lives as long as some frame still holds its Message.
 */
const encodedMessages = new WeakMap<Message, Uint8Array>();

/**
 * A frame as ConnectResponse / SubscribeResponse carry it (both are `ServerFrame frame = 1`,
 * so one encoding serves both). Frames that carry a message reuse its cached encoding and
 * write the frame's own fields around it, in field order, exactly as toBinary would; every
 * other frame is encoded whole.
 */
export function encodeFrameResponse(frame: ServerFrame): Uint8Array {
  const event = frame.event;
  if (event.case !== "messageNew" && event.case !== "messageEdited" && event.case !== "messageDeleted") {
    return toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { frame }));
  }
  let message = encodedMessages.get(event.value);
  if (!message) {
    message = toBinary(MessageSchema, event.value);
    encodedMessages.set(event.value, message);
  }
  const inner = new BinaryWriter();
  if (frame.cursor !== 0n) inner.tag(CURSOR, WireType.Varint).uint64(frame.cursor);
  if (frame.time) inner.tag(TIME, WireType.LengthDelimited).bytes(toBinary(TimestampSchema, frame.time));
  inner.tag(MESSAGE_CASES[event.case], WireType.LengthDelimited).bytes(message);
  return new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(inner.finish()).finish();
}
