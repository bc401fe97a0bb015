import type { Membership } from "../chats/model.js";
import { ChatKind, isActive, MLS_COMMIT_MESSAGE_TYPE, Role, SYSTEM_MESSAGE_TYPE } from "../chats/model.js";
import type { Db } from "../db/types.js";
import { recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";
import type { Caller } from "../identity/tokens.js";
import { FailedPreconditionError, NotFoundError, PermissionDeniedError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { requireMembership } from "./access.js";
import type { MessagingContext } from "./context.js";
import type { StoredMessage } from "./model.js";
import { type EncryptedPayload, requirePayload } from "./payload.js";
import { findMessage, hideFromBlockersOf, membersSeeing, replacePayload, tombstone } from "./repo.js";

/** Replaces the payload of the caller's own message; the seq stays, edited_at is set. */
export async function editMessage(
  ctx: MessagingContext,
  caller: Caller,
  input: { messageId: string; payload: EncryptedPayload | undefined },
): Promise<StoredMessage> {
  const messageId = requireUuid("message_id", input.messageId);
  const payload = requirePayload(input.payload, ctx.maxPayloadBytes);
  // The chat's protocol rules for the new payload, checked before the transaction (they read through the pool).
  const { message: target } = await visibleMessage(ctx.pool, messageId, caller);
  if (target.messageType === MLS_COMMIT_MESSAGE_TYPE) throw new FailedPreconditionError("an MLS commit cannot be edited");
  await ctx.checkChatPayload(target.chatId, payload, caller.userId);
  return ctx.pool.transaction(async (tx) => {
    const { message, membership } = await visibleMessage(tx, messageId, caller);
    if (message.senderUserId !== caller.userId) throw new PermissionDeniedError("only the sender can edit a message");
    if (!isActive(membership)) throw new PermissionDeniedError("you are no longer a member of this group");
    if (message.deletedAt) throw new FailedPreconditionError("the message was deleted and cannot be edited");
    await replacePayload(tx, message.chatId, message.seq, payload);
    await hideFromBlockersOf(tx, message.chatId, message.seq, caller.userId);
    await recordEvents(tx, [
      {
        kind: DurableKind.messageEdited,
        chatId: message.chatId,
        seq: message.seq,
        data: null,
        recipients: await membersSeeing(tx, message.chatId, message.seq),
      },
    ]);
    return (await findMessage(tx, messageId, caller.userId))!;
  });
}

/**
 * Deletes a message for everyone, keeping a tombstone. The sender may delete their own
 * messages; group admins any message of their group. Deleting twice is harmless.
 */
export async function deleteMessage(ctx: MessagingContext, caller: Caller, messageIdInput: string): Promise<StoredMessage> {
  const messageId = requireUuid("message_id", messageIdInput);
  return ctx.pool.transaction(async (tx) => {
    const { message, membership } = await visibleMessage(tx, messageId, caller);
    const isSender = message.senderUserId === caller.userId;
    const isGroupAdmin = membership.kind === ChatKind.group && membership.role === Role.admin && isActive(membership);
    if (!isSender && !isGroupAdmin) {
      throw new PermissionDeniedError("only the sender or a group admin can delete this message");
    }
    if (message.messageType === SYSTEM_MESSAGE_TYPE) throw new PermissionDeniedError("system messages cannot be deleted");
    if (!isActive(membership)) throw new PermissionDeniedError("you are no longer a member of this group");
    if (!message.deletedAt) {
      await tombstone(tx, message.chatId, message.seq);
      await recordEvents(tx, [
        {
          kind: DurableKind.messageDeleted,
          chatId: message.chatId,
          seq: message.seq,
          data: null,
          recipients: await membersSeeing(tx, message.chatId, message.seq),
        },
      ]);
    }
    return (await findMessage(tx, messageId, caller.userId))!;
  });
}

/** The message if the caller may see it (member in its window, not expired); NOT_FOUND otherwise. */
async function visibleMessage(db: Db, messageId: string, caller: Caller): Promise<{ message: StoredMessage; membership: Membership }> {
  const message = await findMessage(db, messageId, caller.userId);
  const notFound = new NotFoundError(`message ${messageId} not found`);
  if (!message) throw notFound;
  const membership = await requireMembership(db, message.chatId, caller.userId).catch(() => {
    throw notFound;
  });
  const visible = message.seq >= membership.joinedSeq && (membership.leftSeq === null || message.seq <= membership.leftSeq);
  if (!visible) throw notFound;
  return { message, membership };
}
