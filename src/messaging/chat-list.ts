import type { Caller } from "../identity/tokens.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { pageLimit } from "../shared/ids.js";
import { type ChatCursor, type ChatListFilter, type ChatSummary, listChatsOf } from "./chat-list-repo.js";
import type { MessagingContext } from "./context.js";

export const CHATS_DEFAULT_LIMIT = 50;
export const CHATS_MAX_LIMIT = 200;

export async function listChats(
  ctx: MessagingContext,
  caller: Caller,
  query: { pageToken: string; limit: number; filter?: ChatListFilter },
): Promise<{ chats: ChatSummary[]; nextPageToken: string }> {
  const limit = pageLimit("limit", query.limit, CHATS_DEFAULT_LIMIT, CHATS_MAX_LIMIT);
  const rows = await listChatsOf(ctx.pool, caller.userId, decodeCursor(query.pageToken), limit + 1, query.filter);
  const chats = rows.slice(0, limit);
  const last = chats.at(-1);
  return {
    chats,
    nextPageToken: rows.length > limit && last ? encodeCursor({ activityMicros: last.activityMicros, chatId: last.chatId }) : "",
  };
}

function encodeCursor(cursor: ChatCursor): string {
  return Buffer.from(`c1:${cursor.activityMicros}:${cursor.chatId}`, "utf8").toString("base64url");
}

function decodeCursor(token: string): ChatCursor | null {
  if (token === "") return null;
  const text = Buffer.from(token, "base64url").toString("utf8");
  const match = /^c1:(\d{1,19}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(text);
  if (!match) throw new InvalidArgumentError("page_token is not a token returned by ListChats");
  return { activityMicros: match[1]!, chatId: match[2]! };
}
