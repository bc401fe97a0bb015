/**
 * What the SDK does with each server frame before the app sees it: messages go through the MLS
 * engine (processed in seq order per chat, decrypted, or marked unreadable), a Welcome is accepted,
 * key packages are topped up, a changed device list updates the shared chats, and everything else
 * becomes its typed event. Frames are handled one at a time, in the order the server sent them.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type Message, MessageType } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import type { ServerFrame } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import { type CyphrError, toCyphrError } from "../errors.js";
import type { MlsDevice } from "../mls/mls-device.js";
import type { PeerIdentities } from "../peers.js";
import type { ChatEvent, LiveEvent } from "./events.js";
import { identityChanged, type PeerSyncDeps, syncPeerDevices } from "./identity-change.js";
import type { LiveAccount } from "./options.js";
import { callSignalOf, dateOf, groupChangeOf, messageCommon, messageEventOf } from "./wire.js";

export interface HandlerDeps {
  account: LiveAccount;
  mls: MlsDevice;
  peers: PeerIdentities;
  keyPackageTarget: number;
  emit(event: LiveEvent): Promise<void>;
  /** A message of someone else was handled: mark it delivered (coalesced by the caller). */
  delivered(chatId: string, seq: bigint): void;
}

/** Failures that a later attempt can fix: the frame is not counted as handled, the stream reconnects and it comes again. */
export function isTransient(error: CyphrError): boolean {
  return (
    error.code === "unavailable" ||
    error.code === "deadline_exceeded" ||
    error.code === "aborted" ||
    error.code === "resource_exhausted" ||
    error.code === "canceled"
  );
}

export class FrameHandler {
  constructor(private readonly deps: HandlerDeps) {}

  /** Handles one frame; throws only transient failures (the caller reconnects), reports the rest as error events. */
  async handle(frame: ServerFrame): Promise<void> {
    try {
      await this.dispatch(frame);
    } catch (err) {
      const error = toCyphrError(err);
      if (isTransient(error)) throw error;
      const chatId = chatOf(frame);
      await this.deps.emit({ kind: "error", error, ...(chatId ? { chatId } : {}), ...(frame.cursor > 0n ? { cursor: frame.cursor } : {}) });
    }
  }

  private async dispatch(frame: ServerFrame): Promise<void> {
    const { emit, account, mls } = this.deps;
    const e = frame.event;
    switch (e.case) {
      case "messageNew":
        return this.message(e.value, false);
      case "messageEdited":
        return this.message(e.value, true);
      case "messageDeleted":
        if (await mls.hasChat(e.value.chatId)) await mls.forgetDeleted(e.value.chatId, e.value.messageId);
        return emit({
          kind: "deleted",
          chatId: e.value.chatId,
          seq: e.value.seq,
          messageId: e.value.messageId,
          deletedAt: dateOf(e.value.deletedAt ?? frame.time),
        });
      case "receipt":
        return emit({
          kind: "receipt",
          chatId: e.value.chatId,
          userId: e.value.userId,
          cyphrId: e.value.cyphrId,
          deliveredSeq: e.value.deliveredSeq,
          readSeq: e.value.readSeq,
        });
      case "groupChanged": {
        const event = groupChangeOf(e.value);
        return event ? this.groupChanged(event) : undefined;
      }
      case "chatTimerChanged":
        return emit({ kind: "chat", chatId: e.value.chatId, change: "timer", seq: e.value.seq, timerSeconds: e.value.timerSeconds });
      case "typing":
        return emit({ kind: "typing", chatId: e.value.chatId, userId: e.value.userId, cyphrId: e.value.cyphrId, typing: e.value.typing });
      case "presence":
        return emit({
          kind: "presence",
          userId: e.value.userId,
          cyphrId: e.value.cyphrId,
          online: e.value.online,
          ...(e.value.lastSeen ? { lastSeen: dateOf(e.value.lastSeen) } : {}),
        });
      case "callSignal": {
        const signal = callSignalOf(e.value);
        return signal ? emit({ kind: "call", signal }) : undefined;
      }
      case "frameError":
        // A typing frame the server refused (the only frames Live sends that it answers this way).
        return emit({
          kind: "error",
          error: toCyphrError(new ConnectError(e.value.error?.message ?? "the server refused a frame", e.value.error?.code ?? Code.Unknown)),
        });
      case "devicesChanged": {
        const updatedChats = await syncPeerDevices(this.peerSync(), e.value.cyphrId, await mls.chatIds());
        return emit({ kind: "devices_changed", userId: e.value.userId, cyphrId: e.value.cyphrId, updatedChats });
      }
      case "identityChanged":
        return identityChanged(
          this.peerSync(),
          { userId: e.value.userId, cyphrId: e.value.cyphrId, identityKey: e.value.identityPublicKey },
          dateOf(frame.time),
        );
      case "keyPackagesLow":
        if (e.value.deviceId !== account.deviceId) return;
        return emit({ kind: "key_packages", uploaded: await mls.keyPackages.onKeyPackagesLow(this.deps.keyPackageTarget) });
      case "mlsWelcome":
        if (e.value.deviceId !== account.deviceId) return;
        await mls.acceptWelcome(e.value.chatId);
        return emit({ kind: "chat", chatId: e.value.chatId, change: "joined", seq: e.value.commitSeq, request: e.value.request });
      default:
        // heartbeat; caught_up is Live's; results of frames Live does not send; kinds newer than this SDK.
        return;
    }
  }

  private async message(m: Message, edited: boolean): Promise<void> {
    const { mls, emit, account } = this.deps;
    // A tombstone replayed as message_new: its message_deleted event says the rest.
    if (m.deleted && !edited) return;
    if (!(await mls.hasChat(m.chatId))) {
      if (m.payload && m.messageType !== MessageType.SYSTEM && m.messageType !== MessageType.MLS_COMMIT)
        await emit({ kind: "unreadable", ...messageCommon(m, false), reason: "no_state" });
      return;
    }
    const read = await mls.receive(m.chatId, m);
    if (!read || (read.readable === false && read.reason === "deleted")) return;
    await emit(messageEventOf(m, read, edited));
    if (!edited && m.senderUserId !== account.userId) this.deps.delivered(m.chatId, m.seq);
  }

  /**
   * A member left or was removed (or deleted the account): the device that acts removes their MLS
   * leaves, so their devices cannot read what comes next. The event comes either way.
   */
  private async groupChanged(event: ChatEvent): Promise<void> {
    const { mls, account, emit } = this.deps;
    const member = event.member;
    const departure = member && (member.action === "left" || member.action === "removed");
    const self = member?.action === "left" ? member.actor : member?.target;
    if (!departure || self?.userId === account.userId || !(await mls.hasChat(event.chatId))) return emit(event);
    try {
      const removal = await mls.removeDepartedMembers(event.chatId);
      if (removal) return emit({ ...event, removedLeavesOf: removal.departed });
    } catch (err) {
      await this.report(err, event.chatId);
    }
    return emit(event);
  }

  private peerSync(): PeerSyncDeps {
    return { ...this.deps, report: (err, chatId) => this.report(err, chatId) };
  }

  /** One chat's step failed: a transient failure is thrown again (the frame comes again), others become an error event. */
  private async report(err: unknown, chatId: string): Promise<void> {
    const error = toCyphrError(err);
    if (isTransient(error)) throw error;
    await this.deps.emit({ kind: "error", error, chatId });
  }
}

function chatOf(frame: ServerFrame): string | undefined {
  const value = frame.event.value as { chatId?: unknown } | undefined;
  return typeof value?.chatId === "string" && value.chatId ? value.chatId : undefined;
}
