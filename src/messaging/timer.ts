import { ChatKind, Role, SystemEventKind } from "../chats/model.js";
import { setChatTimer as storeTimer } from "../chats/repo.js";
import { appendSystemMessage } from "../chats/system-messages.js";
import { activeMemberIds, recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";
import type { Caller } from "../identity/tokens.js";
import { InvalidArgumentError, PermissionDeniedError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { requireActiveMembership } from "./access.js";
import type { MessagingContext } from "./context.js";
import { MAX_EXPIRY_SECONDS } from "./send.js";

/** Sets (1..31,536,000 s) or clears (0) the chat's disappearing timer and records it in the chat. */
export async function setChatTimer(
  ctx: MessagingContext,
  caller: Caller,
  input: { chatId: string; timerSeconds: number },
): Promise<{ timerSeconds: number; seq: number }> {
  const chatId = requireUuid("chat_id", input.chatId);
  if (input.timerSeconds > MAX_EXPIRY_SECONDS) {
    throw new InvalidArgumentError(`timer_seconds must be at most ${MAX_EXPIRY_SECONDS} (0 turns the timer off), got ${input.timerSeconds}`);
  }
  return ctx.pool.transaction(async (tx) => {
    const membership = await requireActiveMembership(tx, chatId, caller.userId);
    if (membership.kind === ChatKind.group && membership.role !== Role.admin) {
      throw new PermissionDeniedError("only group admins can change the disappearing-message timer");
    }
    const groupVersion = await storeTimer(tx, chatId, input.timerSeconds === 0 ? null : input.timerSeconds);
    // A group's system messages carry its current version; the timer is not part of it (no bump).
    const seq = await appendSystemMessage(tx, chatId, {
      kind: SystemEventKind.timerChanged,
      actorUserId: caller.userId,
      timerSeconds: input.timerSeconds,
      ...(membership.kind === ChatKind.group && { groupVersion }),
    });
    await recordEvents(tx, [
      {
        kind: DurableKind.chatTimerChanged,
        chatId,
        seq,
        data: { timer: input.timerSeconds, actor: caller.userId },
        recipients: await activeMemberIds(tx, chatId),
      },
    ]);
    return { timerSeconds: input.timerSeconds, seq };
  });
}
