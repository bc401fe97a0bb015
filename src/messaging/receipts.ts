import { sql } from "slonik";
import { z } from "zod";
import { ChatKind } from "../chats/model.js";
import { lockMembership } from "../chats/repo.js";
import { type Db, uuid } from "../db/types.js";
import { activeMemberIds, recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";
import type { Caller } from "../identity/tokens.js";
import { chatAudience } from "../privacy/consent.js";
import { InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { requireInt8 } from "../shared/uint64.js";
import type { MessagingContext } from "./context.js";

/**
 * Moves the caller's delivery (and, for `read`, read) position forward to `upToSeq`.
 * Positions never move back: a lower value leaves them as they are. Reading implies
 * delivery. When a position moves, a receipt event goes to the caller's other devices
 * and to the senders of the newly covered messages (in a direct chat: the peer).
 */
export async function markReceipt(
  ctx: MessagingContext,
  caller: Caller,
  input: { chatId: string; upToSeq: bigint; read: boolean },
): Promise<{ deliveredSeq: number; readSeq: number }> {
  const chatId = requireUuid("chat_id", input.chatId);
  const requested = requireInt8("up_to_seq", input.upToSeq);
  return ctx.pool.transaction(async (tx) => {
    const membership = await lockMembership(tx, chatId, caller.userId);
    if (!membership) throw new NotFoundError(`chat ${chatId} not found`);
    const bound = membership.leftSeq ?? (await lastSeq(tx, chatId));
    if (requested > bound) {
      throw new InvalidArgumentError(`up_to_seq ${requested} is beyond the last message you can see (seq ${bound})`);
    }
    // Exact: at most `bound`, a stored seq.
    const upToSeq = Number(requested);
    const deliveredSeq = Math.max(membership.deliveredSeq, upToSeq);
    const readSeq = input.read ? Math.max(membership.readSeq, upToSeq) : membership.readSeq;
    if (deliveredSeq === membership.deliveredSeq && readSeq === membership.readSeq) return { deliveredSeq, readSeq };
    await tx.query(sql.unsafe`
      /* storeReceiptPositions */
      UPDATE chat_members SET delivered_seq = ${deliveredSeq}, read_seq = ${readSeq}
      WHERE chat_id = ${chatId} AND user_id = ${caller.userId}`);
    const others =
      membership.kind === ChatKind.direct
        ? (await activeMemberIds(tx, chatId)).filter((u) => u !== caller.userId)
        : await sendersBetween(tx, chatId, Math.min(membership.readSeq, membership.deliveredSeq), upToSeq, caller.userId);
    // Receipts reach only those the caller accepted (src/privacy/consent.ts); read positions only with read receipts on.
    const told = await chatAudience(tx, chatId, caller.userId, others, "delivery_receipts");
    const toldRead = new Set(await chatAudience(tx, chatId, caller.userId, told, "read_receipts"));
    const receipt = (read: number, recipients: string[]) => ({
      kind: DurableKind.receipt,
      chatId,
      seq: null,
      data: { user: caller.userId, cyphrId: caller.cyphrId, delivered: deliveredSeq, read },
      recipients,
    });
    const withoutRead = told.filter((u) => !toldRead.has(u));
    await recordEvents(tx, [
      receipt(readSeq, [caller.userId, ...toldRead]),
      ...(withoutRead.length > 0 && deliveredSeq !== membership.deliveredSeq ? [receipt(0, withoutRead)] : []),
    ]);
    return { deliveredSeq, readSeq };
  });
}

async function lastSeq(db: Db, chatId: string): Promise<number> {
  return db.oneFirst(sql.type(z.object({ last_seq: z.number() }))`
    /* chatLastSeq */
    SELECT last_seq FROM chats WHERE id = ${chatId}`);
}

/** Current members other than `except` who sent messages with seq in (from, to]. */
async function sendersBetween(db: Db, chatId: string, from: number, to: number, except: string): Promise<string[]> {
  const rows = await db.anyFirst(sql.type(z.object({ sender_id: uuid }))`
    /* sendersBetween */
    SELECT DISTINCT m.sender_id FROM messages m
    JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = m.sender_id AND cm.left_seq IS NULL
    WHERE m.chat_id = ${chatId} AND m.seq > ${from} AND m.seq <= ${to} AND m.sender_id <> ${except}`);
  return [...rows];
}
