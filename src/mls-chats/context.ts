import type { DatabasePool } from "slonik";
import type { RateLimiter } from "../messaging/rate-limit.js";
import type { SupportedCiphersuite } from "../mls/suites.js";
import type { ChatProtocols } from "./chat-protocols.js";

/** What the MLS chat use cases need; built once in the composition root. */
export interface MlsChatsContext {
  pool: DatabasePool;
  /** MLS_CIPHERSUITES: accepted suites, the default first. */
  ciphersuites: readonly SupportedCiphersuite[];
  /** MESSAGE_MAX_BYTES: a commit is a message of the chat. */
  maxCommitBytes: number;
  /** MAX_GROUP_MEMBERS. */
  maxMembers: number;
  protocols: ChatProtocols;
  /** The per-sender send budget (SEND_RATE_PER_SECOND, SEND_BURST): a commit is a message too. */
  sendLimiter: RateLimiter;
  /** Starting a direct chat made its creator accept the peer for the first time (who may see whose presence changed). */
  onPeerAccepted?: (userId: string, peerId: string) => Promise<void> | void;
}
