import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MessageSchema, SendMessageRequest } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import type { StoredMessage } from "./model.js";
import type { SendInput, SendResult } from "./send.js";

/**
 * Messaging values in their wire form, shared by MessagingService (service.ts), delivery's
 * event frames (src/delivery/durable-frames.ts) and the realtime frames that answer sends.
 */

/** SendMessageRequest → the send use case's input (unary and stream sends alike). */
export function sendInputOf(req: SendMessageRequest): SendInput {
  return {
    recipientCyphrId: req.destination.case === "recipientCyphrId" ? req.destination.value : undefined,
    chatId: req.destination.case === "chatId" ? req.destination.value : undefined,
    clientMessageId: req.clientMessageId,
    payload: req.payload,
    messageType: req.messageType,
    expiresInSeconds: req.expiresInSeconds,
  };
}

export function sendResultMessage(result: SendResult) {
  return {
    messageId: result.messageId,
    chatId: result.chatId,
    seq: BigInt(result.seq),
    serverTime: timestampFromDate(result.serverTime),
    expiresAt: result.expiresAt ? timestampFromDate(result.expiresAt) : undefined,
    duplicate: result.duplicate,
  };
}

/** A stored message in its wire form (also in the frames of durable events). */
export function messageMessage(m: StoredMessage): MessageInitShape<typeof MessageSchema> {
  return {
    messageId: m.id,
    chatId: m.chatId,
    seq: BigInt(m.seq),
    senderUserId: m.senderUserId ?? "",
    senderCyphrId: m.senderCyphrId ?? "",
    clientMessageId: m.clientMessageId ?? "",
    messageType: m.messageType,
    payload: m.payload ?? undefined,
    createdAt: timestampFromDate(m.createdAt),
    editedAt: m.editedAt ? timestampFromDate(m.editedAt) : undefined,
    deletedAt: m.deletedAt ? timestampFromDate(m.deletedAt) : undefined,
    expiresAt: m.expiresAt ? timestampFromDate(m.expiresAt) : undefined,
    deleted: m.deletedAt !== null,
    systemEvent: m.systemEvent
      ? {
          kind: m.systemEvent.kind,
          actorUserId: m.systemEvent.actorUserId,
          actorCyphrId: m.systemEvent.actorCyphrId,
          targetUserId: m.systemEvent.targetUserId ?? "",
          targetCyphrId: m.systemEvent.targetCyphrId ?? "",
          role: m.systemEvent.role ?? 0,
          timerSeconds: m.systemEvent.timerSeconds ?? 0,
          groupVersion: BigInt(m.systemEvent.groupVersion ?? 0),
          callId: m.systemEvent.call?.id ?? "",
          callOutcome: m.systemEvent.call?.outcome ?? "",
          callDurationSeconds: m.systemEvent.call?.durationSeconds ?? 0,
          callVideo: m.systemEvent.call?.video ?? false,
        }
      : undefined,
    receipts: m.receipts
      ? {
          delivered: m.receipts.recipientCount > 0 && m.receipts.deliveredCount === m.receipts.recipientCount,
          read: m.receipts.recipientCount > 0 && m.receipts.readCount === m.receipts.recipientCount,
          deliveredCount: m.receipts.deliveredCount,
          readCount: m.receipts.readCount,
          recipientCount: m.receipts.recipientCount,
        }
      : undefined,
  };
}
