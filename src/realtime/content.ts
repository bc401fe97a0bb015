import type { Db } from "../db/types.js";
import type { DurableEvent } from "../events/model.js";
import { findMessagesByRef } from "../messaging/repo.js";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { durableFrameBody, messageRef, needsMessage, withCursor } from "./frames.js";

/**
 * Frames for a page of one user's durable events, fetching the messages they refer to in
 * one query. Events whose message expired yield no frame (their cursor still counts as
 * delivered).
 */
export async function framesForEvents(db: Db, events: readonly DurableEvent[]): Promise<{ cursor: number; frame: ServerFrame | null }[]> {
  const refs = events.filter((e) => needsMessage(e.kind) && e.seq !== null).map((e) => ({ chatId: e.chatId, seq: e.seq! }));
  const messages = await findMessagesByRef(db, refs);
  return events.map((event) => {
    const message = event.seq === null ? undefined : messages.get(messageRef(event.chatId, event.seq));
    const body = durableFrameBody(event, message, event.createdAt);
    return { cursor: event.cursor, frame: body ? withCursor(body, event.cursor) : null };
  });
}
