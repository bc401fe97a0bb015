import { randomUUID } from "node:crypto";
import { allocateSeq, findOrCreateDirectChat } from "../chats/repo.js";
import { SYSTEM_MESSAGE_TYPE } from "../chats/model.js";
import { uniqueViolation } from "../db/types.js";
import { activeMemberIds, recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";
import { findIdentityByCyphrId } from "../identity/repo.js";
import type { Caller } from "../identity/tokens.js";
import { InvalidArgumentError, NotFoundError, ResourceExhaustedError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { requireActiveMembership } from "./access.js";
import type { MessagingContext } from "./context.js";
import { requirePayload, type EncryptedPayload } from "./payload.js";
import { findByClientMessageId, insertMessage, type SentRow } from "./repo.js";

export const MAX_EXPIRY_SECONDS = 31_536_000;
/** MessageType values a client may send (SYSTEM is the server's). */
const CLIENT_MESSAGE_TYPES = new Set([0, 1, 2, 3, 4, 6, 7]);

export interface SendInput {
  recipientCyphrId?: string;
  chatId?: string;
  clientMessageId: string;
  payload: EncryptedPayload | undefined;
  messageType: number;
  expiresInSeconds: number;
}

export interface SendResult {
  messageId: string;
  chatId: string;
  seq: number;
  serverTime: Date;
  expiresAt: Date | null;
  duplicate: boolean;
}

/**
 * Stores one message durably and answers only after commit. Shared by unary SendMessage
 * and every other send path, so validation, authorization and idempotency are one code.
 */
export async function sendMessage(ctx: MessagingContext, caller: Caller, input: SendInput): Promise<SendResult> {
  const clientMessageId = requireUuid("client_message_id", input.clientMessageId);
  const payload = requirePayload(input.payload, ctx.maxPayloadBytes);
  if (!CLIENT_MESSAGE_TYPES.has(input.messageType)) {
    throw new InvalidArgumentError(
      input.messageType === SYSTEM_MESSAGE_TYPE
        ? "message_type SYSTEM is reserved for the server"
        : `message_type ${input.messageType} is not a known MessageType`,
    );
  }
  if (input.expiresInSeconds > MAX_EXPIRY_SECONDS) {
    throw new InvalidArgumentError(`expires_in_seconds must be at most ${MAX_EXPIRY_SECONDS}, got ${input.expiresInSeconds}`);
  }
  const retryAfterMs = ctx.sendLimiter.take(caller.userId);
  if (retryAfterMs > 0) {
    throw new ResourceExhaustedError(`send rate limit exceeded; retry in ${retryAfterMs} ms`, retryAfterMs);
  }
  const chatId = await resolveChat(ctx, caller, input);

  const attempt = () =>
    ctx.pool.transaction(async (tx) => {
      await requireActiveMembership(tx, chatId, caller.userId);
      const existing = await findByClientMessageId(tx, chatId, caller.userId, clientMessageId);
      if (existing) return result(chatId, existing, true);
      const { seq, timer_seconds: timer } = await allocateSeq(tx, chatId);
      const stored = await insertMessage(tx, {
        id: randomUUID(),
        chatId,
        seq,
        senderId: caller.userId,
        clientMessageId,
        messageType: input.messageType,
        payload,
        expiresInSeconds: input.expiresInSeconds || timer,
      });
      await recordEvents(tx, [
        { kind: DurableKind.messageNew, chatId, seq, data: null, recipients: await activeMemberIds(tx, chatId) },
      ]);
      return result(chatId, stored, false);
    });

  try {
    return await attempt();
  } catch (error) {
    // A concurrent retry with the same client_message_id committed first: answer with its result.
    if (!isIdempotencyKey(uniqueViolation(error))) throw error;
    const existing = await findByClientMessageId(ctx.pool, chatId, caller.userId, clientMessageId);
    if (!existing) throw error;
    return result(chatId, existing, true);
  }
}

async function resolveChat(ctx: MessagingContext, caller: Caller, input: SendInput): Promise<string> {
  if (input.chatId !== undefined) return requireUuid("chat_id", input.chatId);
  if (input.recipientCyphrId === undefined) {
    throw new InvalidArgumentError("destination is required: set recipient_cyphr_id or chat_id");
  }
  const recipient = await findIdentityByCyphrId(ctx.pool, input.recipientCyphrId);
  if (!recipient) throw new NotFoundError(`no user with cyphr_id "${input.recipientCyphrId}"`);
  if (recipient.id === caller.userId) throw new InvalidArgumentError("recipient_cyphr_id is your own; a direct chat needs another user");
  return findOrCreateDirectChat(ctx.pool, randomUUID(), caller.userId, recipient.id);
}

/**
 * messages is partitioned, so Postgres names the partition's index in the violation
 * (messages_p3_chat_id_sender_id_client_message_id_key), not messages_idempotency_key.
 */
const IDEMPOTENCY_KEY = /^(messages_idempotency_key|messages_p\d+_chat_id_sender_id_client_message_id_key)$/;

function isIdempotencyKey(constraint: string | undefined): boolean {
  return constraint !== undefined && IDEMPOTENCY_KEY.test(constraint);
}

function result(chatId: string, row: SentRow, duplicate: boolean): SendResult {
  return { messageId: row.id, chatId, seq: row.seq, serverTime: row.created_at, expiresAt: row.expires_at, duplicate };
}
