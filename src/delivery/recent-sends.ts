import { create } from "@bufbuild/protobuf";
import { EncryptedPayloadSchema } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import type { StoredMessage } from "../messaging/model.js";
import type { EncryptedPayload } from "../messaging/payload.js";

/** What this instance knows of a message it is committing, before the database answers. */
export interface RecentSend {
  chatId: string;
  senderUserId: string;
  senderCyphrId: string;
  clientMessageId: string;
  messageType: number;
  payload: EncryptedPayload;
}

/**
 * Messages this instance has just sent to the database, by message id, so that their
 * realtime delivery (which follows the commit's NOTIFY within milliseconds) needs no
 * query to read them back. The send batcher remembers each send before its commit; only
 * delivery (src/delivery/live-frames.ts) reads them. Entries are only ever looked up by the
 * id of a committed message (ids are fresh random UUIDs), so an entry whose commit failed
 * is never served; the oldest entries go first once `maxBytes` of payload are held.
 */
export class RecentSends {
  private readonly entries = new Map<string, { send: RecentSend; bytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes = 32 * 1024 * 1024) {}

  remember(messageId: string, send: RecentSend): void {
    // Copies: decoded bytes are views into the request's buffer, which may be far larger
    // than the payload and would stay alive as long as the entry does.
    const p = send.payload;
    // Built as the protobuf message it becomes, so every frame carrying it reuses it as is.
    const payload = create(EncryptedPayloadSchema, {
      kemCiphertext: copy(p.kemCiphertext),
      ciphertext: copy(p.ciphertext),
      nonce: copy(p.nonce),
      tag: copy(p.tag),
      header: copy(p.header),
    });
    const bytes = 256 + p.kemCiphertext.length + p.ciphertext.length + p.nonce.length + p.tag.length + p.header.length;
    this.entries.set(messageId, { send: { ...send, payload }, bytes });
    this.bytes += bytes;
    for (const [id, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(id);
      this.bytes -= entry.bytes;
    }
  }

  /** The committed message as history would show it to a non-sender, if this instance sent it. */
  message(messageId: string, seq: number, createdAt: Date, expiresAt: Date | null): StoredMessage | undefined {
    const send = this.entries.get(messageId)?.send;
    if (!send) return undefined;
    return {
      id: messageId,
      chatId: send.chatId,
      seq,
      senderUserId: send.senderUserId,
      senderCyphrId: send.senderCyphrId,
      clientMessageId: send.clientMessageId,
      messageType: send.messageType,
      payload: send.payload,
      systemEvent: null,
      createdAt,
      editedAt: null,
      deletedAt: null,
      expiresAt,
      receipts: null,
    };
  }

  get size(): number {
    return this.entries.size;
  }
}

/** A copy (small ones share Node's pre-allocated buffer pool, so copying stays cheap). */
const copy = (bytes: Uint8Array): Uint8Array => Buffer.from(bytes);
