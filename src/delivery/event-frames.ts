import type { Db } from "../db/types.js";
import type { DurableEvent } from "../events/model.js";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { durableFrameBody, type FrameBody, needsMessage, withCursor } from "./durable-frames.js";
import type { DurableNotice } from "./notice.js";
import { type MessageRef, messageKey, messagesFor } from "./read-back.js";
import type { RecentSends } from "./recent-sends.js";

/**
 * How durable events become frames, from the event log (a stream's replay) or from
 * notices (live): the messages they refer to are looked up once per page or batch
 * (src/delivery/read-back.ts), then each event's frame is built once for all its recipients.
 */

/**
 * Frames for a page of one user's durable events. Events whose message expired yield no
 * frame (their cursor still counts as delivered).
 */
export async function framesForEvents(db: Db, events: readonly DurableEvent[]): Promise<{ cursor: number; frame: ServerFrame | null }[]> {
  const refs = events.filter((e) => needsMessage(e.kind) && e.seq !== null).map((e) => ({ chatId: e.chatId, seq: e.seq! }));
  const messages = await messagesFor(db, refs);
  return events.map((event) => {
    const message = event.seq === null ? undefined : messages.get(messageKey(event.chatId, event.seq));
    const body = durableFrameBody(event, message, event.createdAt);
    return { cursor: event.cursor, frame: body ? withCursor(body, event.cursor) : null };
  });
}

/**
 * Frame bodies for notices that arrived together, in order: messages this instance sent
 * come from RecentSends, the others are read back in one query. Null: nothing to show
 * (the message expired); the recipients' cursors still pass.
 */
export async function framesForNotices(db: Db, recentSends: RecentSends, notices: readonly DurableNotice[]): Promise<(FrameBody | null)[]> {
  const refs: MessageRef[] = [];
  for (const n of notices) {
    if (!needsMessage(n.kind) || n.seq === null) continue;
    refs.push({ chatId: n.chatId, seq: n.seq, ...(n.sent && { sent: { messageId: n.sent.messageId, createdAt: n.at, expiresAt: n.sent.expiresAt } }) });
  }
  const messages = await messagesFor(db, refs, recentSends);
  return notices.map((n) => durableFrameBody(n, n.seq === null ? undefined : messages.get(messageKey(n.chatId, n.seq)), n.at));
}
