/** Server frames' parts as the SDK's event values, and call signals both ways. Pure conversions. */
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { ChatRole, type Message, type SystemEvent, SystemEventKind } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { type GroupChanged, type CallSignal as WireCallSignal, CallSignalType as WireCallSignalType } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import type { HistoryMessage } from "../mls/history.js";
import type { CallSignal, CallSignalType, ChatEvent, LiveEvent, OutgoingCallSignal } from "./events.js";

export function dateOf(t: Timestamp | undefined): Date {
  return t ? timestampDate(t) : new Date(0);
}

const CALL_TYPES: [WireCallSignalType, CallSignalType][] = [
  [WireCallSignalType.OFFER, "offer"],
  [WireCallSignalType.ANSWER, "answer"],
  [WireCallSignalType.ICE_CANDIDATE, "ice_candidate"],
  [WireCallSignalType.REJECT, "reject"],
  [WireCallSignalType.BUSY, "busy"],
  [WireCallSignalType.END, "end"],
  [WireCallSignalType.ANSWERED_ELSEWHERE, "answered_elsewhere"],
];

export function callSignalOf(s: WireCallSignal): CallSignal | undefined {
  const type = CALL_TYPES.find(([wire]) => wire === s.type)?.[1];
  if (!type) return undefined;
  return {
    callId: s.callId,
    type,
    chatId: s.chatId,
    payload: s.payload,
    video: s.video,
    reason: s.reason,
    ...(s.fromUserId ? { from: { userId: s.fromUserId, cyphrId: s.fromCyphrId } } : {}),
  };
}

export function wireCallSignal(s: OutgoingCallSignal): { callId: string; type: WireCallSignalType; chatId: string; payload: Uint8Array; video: boolean } {
  const type = CALL_TYPES.find(([, name]) => name === s.type)?.[0] ?? WireCallSignalType.UNSPECIFIED;
  return { callId: s.callId, type, chatId: s.chatId ?? "", payload: s.payload ?? new Uint8Array(0), video: s.video ?? false };
}

const MEMBER_ACTIONS = new Map<SystemEventKind, NonNullable<ChatEvent["member"]>["action"]>([
  [SystemEventKind.GROUP_CREATED, "created"],
  [SystemEventKind.MEMBER_ADDED, "added"],
  [SystemEventKind.MEMBER_REMOVED, "removed"],
  [SystemEventKind.MEMBER_LEFT, "left"],
  [SystemEventKind.ROLE_CHANGED, "role_changed"],
]);

/** A group_changed frame as a chat event (undefined for kinds that are not membership or settings changes). */
export function groupChangeOf(g: GroupChanged): ChatEvent | undefined {
  const change: SystemEvent | undefined = g.change;
  if (!change) return undefined;
  if (change.kind === SystemEventKind.GROUP_UPDATED) return { kind: "chat", chatId: g.chatId, change: "updated", seq: g.seq };
  const action = MEMBER_ACTIONS.get(change.kind);
  if (!action) return undefined;
  const role = change.role === ChatRole.ADMIN ? "admin" : change.role === ChatRole.MEMBER ? "member" : undefined;
  return {
    kind: "chat",
    chatId: g.chatId,
    change: "members",
    seq: g.seq,
    member: {
      action,
      ...(change.actorUserId ? { actor: { userId: change.actorUserId, cyphrId: change.actorCyphrId } } : {}),
      ...(change.targetUserId ? { target: { userId: change.targetUserId, cyphrId: change.targetCyphrId } } : {}),
      ...(role ? { role } : {}),
    },
  };
}

/** The event for a new or edited message as the MLS engine read it. */
export function messageEventOf(m: Message, read: HistoryMessage, edited: boolean): LiveEvent {
  // A readable message's sender is the one MLS authenticated (the server's is routing metadata).
  const common = {
    ...messageCommon(m, read.own),
    ...(read.readable
      ? { sender: { userId: m.senderUserId, cyphrId: read.senderCyphrId, ...(read.senderDeviceId !== undefined ? { deviceId: read.senderDeviceId } : {}) } }
      : {}),
  };
  if (!read.readable) return { kind: "unreadable", ...common, reason: read.reason };
  const content = { contentType: read.contentType, bytes: read.bytes, ...(read.text !== undefined ? { text: read.text } : {}) };
  return edited ? { kind: "edited", ...common, ...content, editedAt: dateOf(m.editedAt) } : { kind: "message", ...common, ...content };
}

/** The fields every message event has. */
export function messageCommon(m: Message, own: boolean) {
  return {
    chatId: m.chatId,
    seq: m.seq,
    messageId: m.messageId,
    sender: { userId: m.senderUserId, cyphrId: m.senderCyphrId },
    clientMessageId: m.clientMessageId,
    sentAt: dateOf(m.createdAt),
    own,
  };
}
