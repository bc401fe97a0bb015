import type { Caller } from "../identity/tokens.js";
import { pageLimit, requireUuid } from "../shared/ids.js";
import { requireInt8 } from "../shared/uint64.js";
import { requireMembership } from "./access.js";
import type { MessagingContext } from "./context.js";
import type { StoredMessage } from "./model.js";
import { listMessages } from "./repo.js";

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;

export interface HistoryQuery {
  chatId: string;
  /** As the client sent it (uint64). */
  cursorSeq: bigint;
  limit: number;
  forward: boolean;
}

/**
 * One page of the history the caller may see: from the message announcing their joining
 * to their departure (if any). Expired messages are filtered here, so they are never
 * served even before the sweeper removes them.
 */
export async function listHistory(ctx: MessagingContext, caller: Caller, query: HistoryQuery): Promise<{ messages: StoredMessage[]; nextCursorSeq: number }> {
  const chatId = requireUuid("chat_id", query.chatId);
  const cursorSeq = requireInt8("cursor_seq", query.cursorSeq);
  const limit = pageLimit("limit", query.limit, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT);
  const membership = await requireMembership(ctx.pool, chatId, caller.userId);
  const rows = await listMessages(ctx.pool, {
    chatId,
    viewerId: caller.userId,
    fromSeq: membership.joinedSeq,
    toSeq: membership.leftSeq,
    cursorSeq,
    forward: query.forward,
    limit: limit + 1,
  });
  const messages = rows.slice(0, limit);
  const more = rows.length > limit;
  return { messages, nextCursorSeq: more ? messages.at(-1)!.seq : 0 };
}
