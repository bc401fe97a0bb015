import { assertCyphrIdFormat } from "../identity/cyphr-id.js";
import type { Caller } from "../identity/tokens.js";
import { InvalidArgumentError, NotFoundError, ResourceExhaustedError } from "../shared/errors.js";
import { pageLimit } from "../shared/ids.js";
import { relationsChanged } from "./consent.js";
import { MAX_BLOCKS, type PrivacyContext } from "./context.js";
import type { BlockedUser } from "./model.js";
import { type BlockCursor, countBlocks, deleteBlock, insertBlock, listBlocks, removeContact, userIdOf } from "./relations-repo.js";
import { declineRequestsFrom } from "./requests-repo.js";

/** Blocks `cyphrId`: the caller stops accepting them and every open request of theirs is declined. */
export async function blockUser(ctx: PrivacyContext, caller: Caller, cyphrId: string): Promise<void> {
  const blockedId = await requireOther(ctx, caller, cyphrId);
  await ctx.pool.transaction(async (tx) => {
    if ((await countBlocks(tx, caller.userId)) >= MAX_BLOCKS) {
      throw new ResourceExhaustedError(`at most ${MAX_BLOCKS} blocks per account; unblock someone first`);
    }
    await insertBlock(tx, caller.userId, blockedId);
    await removeContact(tx, caller.userId, blockedId);
    await declineRequestsFrom(tx, caller.userId, blockedId);
  });
  relationsChanged();
  await ctx.onAudienceChanged?.(caller.userId, blockedId);
}

/** Lifts a block; the user is not accepted again until the caller writes to them or accepts a request. */
export async function unblockUser(ctx: PrivacyContext, caller: Caller, cyphrId: string): Promise<void> {
  const blockedId = await requireOther(ctx, caller, cyphrId);
  await deleteBlock(ctx.pool, caller.userId, blockedId);
  relationsChanged();
}

export const BLOCKS_DEFAULT_LIMIT = 50;
export const BLOCKS_MAX_LIMIT = 200;

export async function listBlocked(
  ctx: PrivacyContext,
  caller: Caller,
  query: { pageToken: string; limit: number },
): Promise<{ blocked: BlockedUser[]; nextPageToken: string }> {
  const limit = pageLimit("limit", query.limit, BLOCKS_DEFAULT_LIMIT, BLOCKS_MAX_LIMIT);
  const rows = await listBlocks(ctx.pool, caller.userId, decodeCursor(query.pageToken), limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    blocked: page.map(({ cyphrId, blockedAt }) => ({ cyphrId, blockedAt })),
    nextPageToken: rows.length > limit && last ? encodeCursor(last.cursor) : "",
  };
}

async function requireOther(ctx: PrivacyContext, caller: Caller, cyphrId: string): Promise<string> {
  assertCyphrIdFormat(cyphrId);
  if (cyphrId === caller.cyphrId) throw new InvalidArgumentError("cyphr_id is your own: you cannot block yourself");
  const userId = await userIdOf(ctx.pool, cyphrId);
  if (!userId) throw new NotFoundError(`user ${cyphrId} not found`);
  return userId;
}

function encodeCursor(cursor: BlockCursor): string {
  return Buffer.from(`b1:${cursor.blockedAtMicros}:${cursor.blockedId}`, "utf8").toString("base64url");
}

function decodeCursor(token: string): BlockCursor | null {
  if (token === "") return null;
  const match = /^b1:(\d{1,19}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!match) throw new InvalidArgumentError("page_token is not a token returned by ListBlocked");
  return { blockedAtMicros: match[1]!, blockedId: match[2]! };
}
