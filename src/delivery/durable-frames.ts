import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type DurableEvent, DurableKind } from "../events/model.js";
import { MessageSchema } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import { type ServerFrame, ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { StoredMessage } from "../messaging/model.js";
import { messageMessage } from "../messaging/wire.js";

/** A ServerFrame without its cursor: what every recipient of one event shares. */
export type FrameBody = MessageInitShape<typeof ServerFrameSchema>;

/** Durable kinds whose frame carries a message (or system message) fetched by chat and seq. */
export function needsMessage(kind: DurableKind): boolean {
  return (
    kind !== DurableKind.receipt &&
    kind !== DurableKind.chatTimerChanged &&
    kind !== DurableKind.devicesChanged &&
    kind !== DurableKind.keyPackagesLow &&
    kind !== DurableKind.mlsWelcome &&
    kind !== DurableKind.identityChanged
  );
}

/**
 * The frame of a durable event, without its cursor (the same for every recipient), or
 * null when there is nothing to show any more (the message expired).
 */
export function durableFrameBody(
  event: Pick<DurableEvent, "kind" | "chatId" | "seq" | "data">,
  message: StoredMessage | undefined,
  at: Date,
): FrameBody | null {
  const time = timestampFromDate(at);
  const data = event.data ?? {};
  switch (event.kind) {
    // The Message is built once here: every recipient's frame (withCursor) then reuses it,
    // and the HTTP/2 fast path encodes it once for all of them (src/realtime/h2/frame-encoding.ts).
    case DurableKind.messageNew:
      return message ? { time, event: { case: "messageNew", value: create(MessageSchema, messageMessage(message)) } } : null;
    case DurableKind.messageEdited:
      return message ? { time, event: { case: "messageEdited", value: create(MessageSchema, messageMessage(message)) } } : null;
    case DurableKind.messageDeleted:
      return message ? { time, event: { case: "messageDeleted", value: create(MessageSchema, messageMessage(message)) } } : null;
    case DurableKind.groupChanged: {
      const system = message ? messageMessage(message).systemEvent : undefined;
      return system ? { time, event: { case: "groupChanged", value: { chatId: event.chatId, seq: BigInt(event.seq ?? 0), change: system } } } : null;
    }
    case DurableKind.receipt:
      return {
        time,
        event: {
          case: "receipt",
          value: {
            chatId: event.chatId,
            userId: data.user ?? "",
            cyphrId: data.cyphrId ?? "",
            deliveredSeq: BigInt(data.delivered ?? 0),
            readSeq: BigInt(data.read ?? 0),
          },
        },
      };
    case DurableKind.chatTimerChanged:
      return {
        time,
        event: {
          case: "chatTimerChanged",
          value: { chatId: event.chatId, seq: BigInt(event.seq ?? 0), timerSeconds: data.timer ?? 0, actorUserId: data.actor ?? "" },
        },
      };
    case DurableKind.devicesChanged:
      return { time, event: { case: "devicesChanged", value: { userId: data.user ?? "", cyphrId: data.cyphrId ?? "" } } };
    case DurableKind.keyPackagesLow:
      return { time, event: { case: "keyPackagesLow", value: { deviceId: data.device ?? 0, ciphersuite: data.suite ?? 0, oneTime: data.count ?? 0 } } };
    case DurableKind.mlsWelcome:
      // Only that the Welcome waits: its bytes (up to megabytes with a ratchet tree) come with MlsChatsService.ListWelcomes.
      return {
        time,
        event: {
          case: "mlsWelcome",
          value: { chatId: event.chatId ?? "", deviceId: data.device ?? 0, commitSeq: BigInt(event.seq ?? 0), createdAt: time, request: data.request === true },
        },
      };
    case DurableKind.identityChanged:
      return {
        time,
        event: {
          case: "identityChanged",
          value: { userId: data.user ?? "", cyphrId: data.cyphrId ?? "", identityPublicKey: Buffer.from(data.identityKey ?? "", "base64") },
        },
      };
    default:
      return null;
  }
}

/** One recipient's frame. A body of null (an expired message) still carries the cursor, so the stream learns it passed. */
export function withCursor(body: FrameBody | null, cursor: number): ServerFrame {
  return create(ServerFrameSchema, { ...(body ?? { event: { case: undefined } }), cursor: BigInt(cursor) });
}
