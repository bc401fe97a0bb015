/**
 * Reads a chat's history for this device: applies commits in seq order, decrypts application
 * messages into the Store's log, and builds history() from the log and the server's list, with
 * an explicit marker for what this device cannot read. Callers hold the chat's lock.
 */
import type { Client } from "@connectrpc/connect";
import { type ClientState, emptyPskIndex, processPrivateMessage, processPublicMessage } from "ts-mls";
import { Direction, type Message, MessageType, type MessagingService, SystemEventKind } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { decodeMessage, suiteImpl } from "./codec.js";
import { mlsFailure, noState } from "./errors.js";
import type { ChatPosition, GroupStore, LoggedMessage } from "./group-store.js";
import { type HistoryMessage, readableMessage } from "./history.js";
import { mlsSender } from "./sender.js";

/** Messages asked for per ListMessages page (the server's maximum is 200). */
const PAGE = 200;

export class ChatReader {
  constructor(
    private readonly cyphrId: string,
    private readonly groups: GroupStore,
    private readonly messaging: Client<typeof MessagingService>,
    private readonly auth: () => Promise<{ headers: Record<string, string> }>,
  ) {}

  async position(chatId: string): Promise<ChatPosition> {
    const position = await this.groups.position(chatId);
    if (!position) throw noState(chatId);
    return position;
  }

  /** Processes every message after the last one processed; returns the application messages it decrypted. */
  async sync(chatId: string): Promise<HistoryMessage[]> {
    const position = await this.position(chatId);
    const fresh: HistoryMessage[] = [];
    for (;;) {
      const page = await this.page(chatId, position.lastSeq);
      for (const m of page) {
        position.lastSeq = m.seq;
        const read = await this.process(chatId, m, position);
        if (read) fresh.push(read);
      }
      if (page.length < PAGE) return fresh;
    }
  }

  /** Up to `limit` of the chat's application messages after seq `afterSeq`, in seq order, as this device can read them. */
  async history(chatId: string, _ownCyphrId: string, afterSeq: bigint, limit: number): Promise<HistoryMessage[]> {
    const position = await this.position(chatId);
    const out: HistoryMessage[] = [];
    for (let cursor = afterSeq; ; ) {
      const page = await this.page(chatId, cursor);
      for (const m of page) {
        cursor = m.seq;
        if (out.length >= limit) return out;
        const described = await this.describe(chatId, m, position);
        if (described) out.push(described);
      }
      if (page.length < PAGE) return out;
    }
  }

  /**
   * One message that arrived live (the realtime stream's message_new or message_edited): everything
   * of the chat up to it is processed first (the message itself directly when it is the next seq,
   * else by paging history), then it is described as history() would show it. Undefined for commits
   * and system messages.
   */
  async receive(chatId: string, m: Message): Promise<HistoryMessage | undefined> {
    const position = await this.position(chatId);
    if (m.seq === position.lastSeq + 1n) {
      position.lastSeq = m.seq;
      await this.process(chatId, m, position);
    } else if (m.seq > position.lastSeq) {
      await this.sync(chatId);
    }
    return this.describe(chatId, m, await this.position(chatId));
  }

  /** An application message as this device can read it (an edit by someone else decrypted now); undefined for commits and system messages. */
  private async describe(chatId: string, m: Message, position: ChatPosition): Promise<HistoryMessage | undefined> {
    if (m.messageType === MessageType.SYSTEM || m.messageType === MessageType.MLS_COMMIT) return undefined;
    const own = await this.groups.isOwn(chatId, m.messageId);
    const logged = await this.groups.logged(chatId, m.messageId);
    const common = { seq: m.seq, messageId: m.messageId, senderCyphrId: m.senderCyphrId, own, deleted: m.deleted };
    if (m.deleted) return { ...common, readable: false, reason: "deleted" };
    if (logged) return readableMessage(await this.reread(chatId, m, logged, own, position), own);
    if (own) return { ...common, readable: false, reason: "sent_by_this_device" };
    if (m.seq <= position.joinedSeq) return { ...common, readable: false, reason: "before_join" };
    return { ...common, readable: false, reason: "undecryptable" };
  }

  /** A message someone else edited after this device read it: the replacement is decrypted (if it can be) and logged. */
  private async reread(chatId: string, m: Message, logged: LoggedMessage, own: boolean, position: ChatPosition): Promise<LoggedMessage> {
    const editedAt = editedMillis(m);
    if (own || editedAt <= logged.editedAt || !m.payload) return logged;
    const message = decodeMessage(m.payload.ciphertext);
    if (message?.wireformat !== "mls_private_message") return logged;
    try {
      const state = await this.state(chatId);
      const impl = await suiteImpl();
      const result = await processPrivateMessage(state, message.privateMessage, emptyPskIndex, impl);
      if (result.kind !== "applicationMessage") return logged;
      // Only its sender edits a message: a replacement MLS says is from someone else is not taken.
      if ((await mlsSender(state, message.privateMessage, impl))?.cyphrId !== logged.senderCyphrId) return logged;
      const edited = { ...logged, body: result.message, editedAt };
      await this.groups.log(chatId, edited);
      await this.groups.saveState(chatId, result.newState, position);
      return edited;
    } catch {
      return logged;
    }
  }

  /** Drops a deleted message's plaintext from the log. */
  async forget(chatId: string, messageId: string): Promise<void> {
    const logged = await this.groups.logged(chatId, messageId);
    if (logged) await this.groups.log(chatId, { ...logged, body: new Uint8Array(0), deleted: true });
  }

  private async page(chatId: string, after: bigint): Promise<Message[]> {
    const res = await this.messaging.listMessages({ chatId, cursorSeq: after, direction: Direction.FORWARD, limit: PAGE }, await this.auth());
    return res.messages;
  }

  /** One message of the chat, in seq order: a commit moves the state on; an application message is decrypted and logged. */
  private async process(chatId: string, m: Message, position: ChatPosition): Promise<HistoryMessage | undefined> {
    const skip = m.messageType === MessageType.SYSTEM || !m.payload || m.deleted || (await this.groups.isOwn(chatId, m.messageId));
    const message = skip ? undefined : decodeMessage(m.payload!.ciphertext);
    const departed = departedUser(m);
    if (departed !== undefined && departed !== this.cyphrId) await this.groups.noteDeparture(chatId, m.seq);
    if (!message) {
      await this.groups.savePosition(chatId, position);
      return undefined;
    }
    const impl = await suiteImpl();
    const state = await this.state(chatId);
    if (message.wireformat === "mls_public_message") {
      let next: ClientState;
      try {
        next = (await processPublicMessage(state, message.publicMessage, emptyPskIndex, impl)).newState;
      } catch (err) {
        throw mlsFailure("data_loss", `this device cannot apply commit seq ${m.seq} of chat ${chatId}: join it again by external commit`, err);
      }
      await this.groups.saveState(chatId, next, position);
      return undefined;
    }
    if (message.wireformat !== "mls_private_message") {
      await this.groups.savePosition(chatId, position);
      return undefined;
    }
    let result: Awaited<ReturnType<typeof processPrivateMessage>>;
    try {
      result = await processPrivateMessage(state, message.privateMessage, emptyPskIndex, impl);
    } catch {
      // Not for this device's epochs (history marks it undecryptable); the state is unchanged.
      await this.groups.savePosition(chatId, position);
      return undefined;
    }
    if (result.kind !== "applicationMessage") {
      await this.groups.saveState(chatId, result.newState, position);
      return undefined;
    }
    const sender = await mlsSender(state, message.privateMessage, impl);
    const logged = {
      seq: m.seq,
      messageId: m.messageId,
      senderCyphrId: sender?.cyphrId ?? m.senderCyphrId,
      ...(sender ? { senderDeviceId: sender.deviceId } : {}),
      contentType: m.messageType === MessageType.TEXT ? ("text" as const) : ("bytes" as const),
      body: result.message,
      editedAt: editedMillis(m),
      deleted: false,
    };
    await this.groups.log(chatId, logged);
    await this.groups.saveState(chatId, result.newState, position);
    return readableMessage(logged, false);
  }

  private async state(chatId: string): Promise<ClientState> {
    const state = await this.groups.state(chatId);
    if (!state) throw noState(chatId);
    return state;
  }
}

/** Who left or was removed, for a system message that says so. */
function departedUser(m: Message): string | undefined {
  const event = m.messageType === MessageType.SYSTEM ? m.systemEvent : undefined;
  if (event?.kind === SystemEventKind.MEMBER_LEFT) return event.actorCyphrId;
  if (event?.kind === SystemEventKind.MEMBER_REMOVED) return event.targetCyphrId;
  return undefined;
}

/** When a message was last edited, in milliseconds since the epoch; 0 if never. */
export function editedMillis(m: Pick<Message, "editedAt">): number {
  return m.editedAt ? Number(m.editedAt.seconds) * 1000 + Math.floor(m.editedAt.nanos / 1e6) : 0;
}
