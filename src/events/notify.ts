import { sql } from "slonik";
import type { Db } from "../db/types.js";
import { type EphemeralNotice, EVENTS_CHANNEL, type RevokeNotice } from "../delivery/notice.js";
import { encodeNotice } from "../delivery/notice-codec.js";

/**
 * Queues notices on the events channel. Inside a transaction they are delivered only if
 * it commits, after the commit, in commit order. Durable notices are written with their
 * events by cyphr_record_events (src/events/log.ts).
 */
export async function notify(db: Db, notices: readonly (EphemeralNotice | RevokeNotice)[]): Promise<void> {
  const payloads = notices.flatMap(encodeNotice);
  if (payloads.length === 0) return;
  await db.query(sql.unsafe`
    /* notifyEvents */
    SELECT pg_notify(${EVENTS_CHANNEL}, p) FROM unnest(${sql.array(payloads, "text")}::text[]) WITH ORDINALITY AS t (p, i) ORDER BY i`);
}

/** Ends the streams of a revoked session on every instance. */
export async function notifySessionRevoked(db: Db, userId: string, sessionId: string): Promise<void> {
  await notify(db, [{ type: "revoke", userId, sessionId }]);
}
