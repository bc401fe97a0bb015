import { randomUUID } from "node:crypto";
import { sql } from "slonik";
import type { Db } from "../db/types.js";
import { EVENTS_CHANNEL, MAX_NOTIFY_BYTES, type DurableNotice, type EphemeralNotice, type Notice } from "./channel.js";

/**
 * Queues notices on the events channel. Inside a transaction they are delivered only if
 * it commits, after the commit, in commit order.
 */
export async function notify(db: Db, notices: readonly Notice[]): Promise<void> {
  const payloads = notices.flatMap(encode);
  if (payloads.length === 0) return;
  await db.query(sql.unsafe`
    /* notifyEvents */
    SELECT pg_notify(${EVENTS_CHANNEL}, p) FROM unnest(${sql.array(payloads, "text")}::text[]) WITH ORDINALITY AS t (p, i) ORDER BY i`);
}

/** Splits recipient lists until each notice fits; chunks a notice that cannot be split. */
function encode(notice: Notice): string[] {
  const text = JSON.stringify(notice);
  if (Buffer.byteLength(text) <= MAX_NOTIFY_BYTES) return [text];
  if ((notice.t === "d" || notice.t === "x") && notice.u.length > 1) {
    const half = Math.ceil(notice.u.length / 2);
    const split = <T extends DurableNotice | EphemeralNotice>(n: T, u: T["u"]): T => ({ ...n, u });
    return [...encode(split(notice, notice.u.slice(0, half) as never)), ...encode(split(notice, notice.u.slice(half) as never))];
  }
  const id = randomUUID();
  const size = MAX_NOTIFY_BYTES - 200;
  const parts: string[] = [];
  for (let offset = 0; offset < text.length; offset += size) parts.push(text.slice(offset, offset + size));
  return parts.map((p, i) => JSON.stringify({ t: "c", id, i, n: parts.length, p }));
}

/** Ends the streams of a revoked session on every instance. */
export async function notifySessionRevoked(db: Db, userId: string, sessionId: string): Promise<void> {
  await notify(db, [{ t: "r", u: userId, s: sessionId }]);
}
