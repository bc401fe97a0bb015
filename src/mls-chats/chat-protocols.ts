import type { Db } from "../db/types.js";
import { BoundedMap } from "../shared/bounded-map.js";
import { CHAT_PROTOCOL_CACHE_ENTRIES } from "./limits.js";
import { type ChatProtocolRow, findChatProtocol } from "./repo.js";

/**
 * Each chat's protocol, suite and epoch as this instance last read them, so that a send to
 * an OPAQUE chat costs no query after the first and a send to an MLS chat usually none. A
 * chat's protocol and suite never change; its epoch only grows, and other instances may
 * move it on: an MLS message naming an epoch the cached one does not allow is checked
 * again against a fresh read before it is refused.
 */
export class ChatProtocols {
  private readonly chats = new BoundedMap<string, ChatProtocolRow>(CHAT_PROTOCOL_CACHE_ENTRIES);

  constructor(private readonly db: Db) {}

  /** The chat's row (fresh from the database when asked), or null for no such chat. */
  async get(chatId: string, fresh = false): Promise<ChatProtocolRow | null> {
    const cached = fresh ? undefined : this.chats.get(chatId);
    if (cached) return cached;
    const row = await findChatProtocol(this.db, chatId);
    if (row) this.chats.set(chatId, row);
    return row;
  }

  /** A commit on this instance moved the chat to `epoch`. */
  noteEpoch(chatId: string, row: ChatProtocolRow, epoch: bigint): void {
    const cached = this.chats.get(chatId);
    if (!cached || (cached.epoch ?? -1n) < epoch) this.chats.set(chatId, { ...row, epoch });
  }
}
