import type { DatabasePool } from "slonik";
import type { BoundedMap } from "../shared/bounded-map.js";
import type { EncryptedPayload } from "./payload.js";
import type { RateLimiter } from "./rate-limit.js";
import type { SendBatcher } from "./send-batcher.js";

/** What the messaging use cases need; built once in the composition root. */
export interface MessagingContext {
  pool: DatabasePool;
  maxPayloadBytes: number;
  sendLimiter: RateLimiter;
  /** Commits sends in groups (one code path for unary and stream sends). */
  sendBatcher: SendBatcher;
  /** "sender id:recipient cyphr id" → direct chat id (stable once created). */
  directChats: BoundedMap<string, string>;
  /**
   * Checks a payload against its chat's protocol (an MLS chat takes one MLS application
   * message or proposal of a current epoch; see src/mls-chats/payload-check.ts).
   */
  checkChatPayload: (chatId: string, payload: EncryptedPayload, userId: string) => Promise<void>;
  /** A send made its sender accept the peer for the first time (who may see whose presence changed). */
  onPeerAccepted?: (userId: string, peerId: string) => Promise<void> | void;
}
