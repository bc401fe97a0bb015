import { sql } from "slonik";
import { z } from "zod";
import type { Caller } from "../identity/tokens.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import type { MessagingContext } from "./context.js";
import { requireMembership } from "./access.js";

const positions = z.object({ delivered_seq: z.number(), read_seq: z.number(), bound: z.number() });

/**
 * Moves the caller's delivery (and, for `read`, read) position forward to `upToSeq`.
 * Positions never move back: a lower value leaves them as they are. Reading implies
 * delivery.
 */
export async function markReceipt(
  ctx: MessagingContext,
  caller: Caller,
  input: { chatId: string; upToSeq: number; read: boolean },
): Promise<{ deliveredSeq: number; readSeq: number }> {
  const chatId = requireUuid("chat_id", input.chatId);
  await requireMembership(ctx.pool, chatId, caller.userId);
  const readSet = input.read ? sql.fragment`, read_seq = greatest(m.read_seq, ${input.upToSeq})` : sql.fragment``;
  const row = await ctx.pool.one(sql.type(positions)`
    /* markReceipt */
    WITH bound AS (
      SELECT coalesce(m.left_seq, c.last_seq) AS bound
      FROM chat_members m JOIN chats c ON c.id = m.chat_id
      WHERE m.chat_id = ${chatId} AND m.user_id = ${caller.userId}
    ), updated AS (
      UPDATE chat_members m SET delivered_seq = greatest(m.delivered_seq, ${input.upToSeq}) ${readSet}
      FROM bound
      WHERE m.chat_id = ${chatId} AND m.user_id = ${caller.userId} AND ${input.upToSeq} <= bound.bound
      RETURNING m.delivered_seq, m.read_seq
    )
    SELECT coalesce(u.delivered_seq, -1) AS delivered_seq, coalesce(u.read_seq, -1) AS read_seq, b.bound
    FROM bound b LEFT JOIN updated u ON TRUE`);
  if (row.delivered_seq < 0) {
    throw new InvalidArgumentError(`up_to_seq ${input.upToSeq} is beyond the last message you can see (seq ${row.bound})`);
  }
  return { deliveredSeq: row.delivered_seq, readSeq: row.read_seq };
}
