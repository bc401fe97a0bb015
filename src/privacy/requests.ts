import { sql } from "slonik";
import { z } from "zod";
import type { Db } from "../db/types.js";
import type { Caller } from "../identity/tokens.js";
import { FailedPreconditionError, NotFoundError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { relationsChanged } from "./consent.js";
import type { PrivacyContext } from "./context.js";
import { addContact } from "./relations-repo.js";
import { closeRequest, declineRequest } from "./requests-repo.js";

/** Accepts a request: a direct chat's requester becomes an accepted contact; a group stops being a request. */
export async function acceptChat(ctx: PrivacyContext, caller: Caller, chatIdInput: string): Promise<void> {
  const chatId = requireUuid("chat_id", chatIdInput);
  const accepted = await ctx.pool.transaction(async (tx) => {
    const kind = await requireMembership(tx, chatId, caller.userId);
    const closed = await closeRequest(tx, chatId, caller.userId);
    if (!closed?.requesterId || kind !== 1) return null;
    await addContact(tx, caller.userId, closed.requesterId);
    return closed.requesterId;
  });
  relationsChanged();
  if (accepted) await ctx.onAudienceChanged?.(caller.userId, accepted);
}

/** Declines an open request: the chat disappears for the caller and nothing more of it reaches them. */
export async function declineChat(ctx: PrivacyContext, caller: Caller, chatIdInput: string): Promise<void> {
  const chatId = requireUuid("chat_id", chatIdInput);
  await ctx.pool.transaction(async (tx) => {
    await requireMembership(tx, chatId, caller.userId);
    if (!(await declineRequest(tx, chatId, caller.userId))) {
      throw new FailedPreconditionError(`chat ${chatId} is not a message request for you; leave it instead`);
    }
  });
  relationsChanged();
}

/** The chat's kind (1 direct, 2 group) when the caller is a current member. */
async function requireMembership(db: Db, chatId: string, userId: string): Promise<number> {
  const kind = await db.maybeOneFirst(sql.type(z.object({ kind: z.number() }))`
    /* privacyChatMembership */
    SELECT c.kind FROM chat_members m JOIN chats c ON c.id = m.chat_id
    WHERE m.chat_id = ${chatId} AND m.user_id = ${userId} AND m.left_seq IS NULL`);
  if (kind === null) throw new NotFoundError(`chat ${chatId} not found`);
  return kind;
}
