import { randomUUID } from "node:crypto";
import { MLS_COMMIT_MESSAGE_TYPE, SYSTEM_MESSAGE_TYPE } from "../chats/model.js";
import { findOrCreateDirectChat } from "../chats/repo.js";
import { findIdentityByCyphrId } from "../identity/repo.js";
import type { Caller } from "../identity/tokens.js";
import { messageStored } from "../privacy/consent.js";
import { InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { quote } from "../shared/quote.js";
import type { MessagingContext } from "./context.js";
import { type EncryptedPayload, requirePayload } from "./payload.js";
import { spendSend } from "./rate-limit.js";
import type { SendResult } from "./send-batcher.js";

export const MAX_EXPIRY_SECONDS = 31_536_000;
/** MessageType values a client may send (SYSTEM is the server's, MLS_COMMIT comes through MlsChatsService). */
const CLIENT_MESSAGE_TYPES = new Set([0, 1, 2, 3, 4, 6, 7]);

export interface SendInput {
  recipientCyphrId?: string;
  chatId?: string;
  clientMessageId: string;
  payload: EncryptedPayload | undefined;
  messageType: number;
  expiresInSeconds: number;
}

export type { SendResult } from "./send-batcher.js";

/**
 * Stores one message durably and answers only after commit. Shared by unary SendMessage
 * and every other send path, so validation, authorization and idempotency are one code.
 * `queued` is told once the message is in the group-commit queue: a later send to the same
 * chat submitted from then on is committed after it (src/messaging/send-queue.ts).
 */
export async function sendMessage(ctx: MessagingContext, caller: Caller, input: SendInput, queued?: () => void): Promise<SendResult> {
  const clientMessageId = requireUuid("client_message_id", input.clientMessageId);
  const payload = requirePayload(input.payload, ctx.maxPayloadBytes);
  if (!CLIENT_MESSAGE_TYPES.has(input.messageType)) {
    throw new InvalidArgumentError(
      input.messageType === SYSTEM_MESSAGE_TYPE
        ? "message_type SYSTEM is reserved for the server"
        : input.messageType === MLS_COMMIT_MESSAGE_TYPE
          ? "message_type MLS_COMMIT is written by MlsChatsService.CommitMlsChat and JoinMlsChat"
          : `message_type ${input.messageType} is not a known MessageType`,
    );
  }
  if (input.expiresInSeconds > MAX_EXPIRY_SECONDS) {
    throw new InvalidArgumentError(`expires_in_seconds must be at most ${MAX_EXPIRY_SECONDS}, got ${input.expiresInSeconds}`);
  }
  spendSend(ctx.sendLimiter, caller.userId);
  const chatId = await resolveChat(ctx, caller, input);
  // A direct chat found by recipient is always OPAQUE; a chat named by id may be MLS.
  if (input.chatId !== undefined) await ctx.checkChatPayload(chatId, payload, caller.userId);
  // Writing accepts the peer; a first message to someone who has not accepted the sender is a
  // request for them (src/privacy/consent.ts). Recorded beside the commit, not after it.
  const stored = ctx.sendBatcher.submit({
    chatId,
    senderId: caller.userId,
    senderCyphrId: caller.cyphrId,
    clientMessageId,
    messageType: input.messageType,
    payload,
    expiresInSeconds: input.expiresInSeconds,
  });
  queued?.();
  const [result, accepted] = await Promise.all([stored, messageStored(ctx.pool, chatId, caller.userId)]);
  if (accepted) await ctx.onPeerAccepted?.(caller.userId, accepted);
  return result;
}

async function resolveChat(ctx: MessagingContext, caller: Caller, input: SendInput): Promise<string> {
  if (input.chatId !== undefined) return requireUuid("chat_id", input.chatId);
  if (input.recipientCyphrId === undefined) {
    throw new InvalidArgumentError("destination is required: set recipient_cyphr_id or chat_id");
  }
  // A pair's direct chat never changes once it exists: remember it.
  const cacheKey = `${caller.userId}:${input.recipientCyphrId}`;
  const cached = ctx.directChats.get(cacheKey);
  if (cached) return cached;
  const recipient = await findIdentityByCyphrId(ctx.pool, input.recipientCyphrId);
  if (!recipient) throw new NotFoundError(`no user with cyphr_id ${quote(input.recipientCyphrId)}`);
  if (recipient.id === caller.userId) throw new InvalidArgumentError("recipient_cyphr_id is your own; a direct chat needs another user");
  const chatId = await findOrCreateDirectChat(ctx.pool, randomUUID(), caller.userId, recipient.id);
  ctx.directChats.set(cacheKey, chatId);
  return chatId;
}
