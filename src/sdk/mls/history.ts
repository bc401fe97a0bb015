/**
 * What history(chat) returns: each application message of the chat in seq order, either with
 * its plaintext or with an explicit reason this device cannot read it.
 */
import type { LoggedMessage } from "./group-store.js";

export type UnreadableReason =
  /** Sent before this device joined the chat's MLS group: it never had the keys. */
  | "before_join"
  /** Sent by this device, whose plaintext it no longer has (MLS senders cannot decrypt their own messages). */
  | "sent_by_this_device"
  /** Meant for this device's epochs, but it did not decrypt. */
  | "undecryptable"
  /** Deleted for everyone by its sender. */
  | "deleted";

interface Common {
  seq: bigint;
  messageId: string;
  senderCyphrId: string;
  /** Sent by this device. */
  own: boolean;
  deleted: boolean;
}

export type HistoryMessage =
  | (Common & { readable: true; contentType: "text" | "bytes"; text?: string; bytes: Uint8Array; edited: boolean; senderDeviceId?: number })
  | (Common & { readable: false; reason: UnreadableReason });

const utf8 = new TextDecoder();

export function readableMessage(m: LoggedMessage, own: boolean): HistoryMessage {
  return {
    seq: m.seq,
    messageId: m.messageId,
    senderCyphrId: m.senderCyphrId,
    own,
    deleted: m.deleted,
    readable: true,
    contentType: m.contentType,
    bytes: m.body,
    edited: m.editedAt > 0,
    ...(m.senderDeviceId !== undefined ? { senderDeviceId: m.senderDeviceId } : {}),
    ...(m.contentType === "text" ? { text: utf8.decode(m.body) } : {}),
  };
}
