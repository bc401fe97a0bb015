/**
 * Sending, editing and deleting application messages of MLS chats for one device: each encrypted
 * with the chat's current group state, sent with a client_message_id that retries reuse, and kept
 * in the Store's log (an MLS sender cannot decrypt its own messages). Before encrypting, a chat
 * whose departed members' leaves are still in the tree has them removed (`removeDeparted`, see
 * member-sync.ts), so no message is encrypted to them. Callers hold the chat's lock.
 */
import type { Client } from "@connectrpc/connect";
import { type ClientState, createApplicationMessage } from "ts-mls";
import { MessageType, type MessagingService } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { resend } from "./calls.js";
import { type ChatReader, editedMillis } from "./chat-reader.js";
import { suiteImpl, wire } from "./codec.js";
import type { GroupStore } from "./group-store.js";

export type Content = string | Uint8Array;

export class ChatMessages {
  constructor(
    private readonly cyphrId: string,
    private readonly groups: GroupStore,
    private readonly reader: ChatReader,
    private readonly messaging: Client<typeof MessagingService>,
    private readonly activeState: (chatId: string) => Promise<ClientState>,
    private readonly removeDeparted: (chatId: string) => Promise<unknown>,
    private readonly auth: () => Promise<{ headers: Record<string, string> }>,
  ) {}

  async send(chatId: string, content: Content, messageType?: MessageType): Promise<{ messageId: string; seq: bigint }> {
    await this.reader.sync(chatId);
    const type = messageType ?? (typeof content === "string" ? MessageType.TEXT : MessageType.FILE);
    const ciphertext = await this.encrypt(chatId, content);
    const clientMessageId = crypto.randomUUID();
    const res = await resend(async () =>
      this.messaging.sendMessage(
        { destination: { case: "chatId", value: chatId }, clientMessageId, messageType: type, payload: { ciphertext } },
        await this.auth(),
      ),
    );
    await this.groups.markOwn(chatId, res.messageId);
    await this.groups.log(chatId, { seq: res.seq, messageId: res.messageId, senderCyphrId: this.cyphrId, ...body(content), editedAt: 0, deleted: false });
    return { messageId: res.messageId, seq: res.seq };
  }

  async edit(chatId: string, messageId: string, content: Content): Promise<void> {
    await this.reader.sync(chatId);
    const ciphertext = await this.encrypt(chatId, content);
    const res = await resend(async () => this.messaging.editMessage({ messageId, payload: { ciphertext } }, await this.auth()));
    const before = await this.groups.logged(chatId, messageId);
    const editedAt = res.message ? editedMillis(res.message) : Date.now();
    await this.groups.log(chatId, {
      seq: res.message?.seq ?? before?.seq ?? 0n,
      messageId,
      senderCyphrId: this.cyphrId,
      ...body(content),
      editedAt,
      deleted: false,
    });
  }

  async delete(chatId: string, messageId: string): Promise<void> {
    await resend(async () => this.messaging.deleteMessage({ messageId }, await this.auth()));
    await this.reader.forget(chatId, messageId);
  }

  /** Called after a sync: the chat's departed members are removed first. */
  private async encrypt(chatId: string, content: Content): Promise<Uint8Array> {
    await this.removeDeparted(chatId);
    const position = await this.reader.position(chatId);
    const { newState, privateMessage } = await createApplicationMessage(await this.activeState(chatId), body(content).body, await suiteImpl());
    // Saved before sending: a generation used once is never used again, even if the send fails.
    await this.groups.saveState(chatId, newState, position);
    return wire.privateMessage(privateMessage);
  }
}

function body(content: Content): { contentType: "text" | "bytes"; body: Uint8Array } {
  return typeof content === "string" ? { contentType: "text", body: new TextEncoder().encode(content) } : { contentType: "bytes", body: content };
}
