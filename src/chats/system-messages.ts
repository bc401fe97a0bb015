import { randomUUID } from "node:crypto";
import { sql } from "slonik";
import type { Db } from "../db/types.js";
import { SYSTEM_MESSAGE_TYPE, type SystemEvent } from "./model.js";
import { allocateSeq } from "./repo.js";

/** Appends a system message recording `event` to the chat; returns its seq. Call inside the change's transaction. */
export async function appendSystemMessage(db: Db, chatId: string, event: SystemEvent): Promise<number> {
  const { seq } = await allocateSeq(db, chatId);
  await db.query(sql.unsafe`
    /* insertSystemMessage */
    INSERT INTO messages (chat_id, seq, id, message_type, system_event)
    VALUES (${chatId}, ${seq}, ${randomUUID()}, ${SYSTEM_MESSAGE_TYPE}, ${sql.jsonb({
      kind: event.kind,
      actor: event.actorUserId,
      ...(event.targetUserId !== undefined && { target: event.targetUserId }),
      ...(event.role !== undefined && { role: event.role }),
      ...(event.timerSeconds !== undefined && { timer: event.timerSeconds }),
      ...(event.groupVersion !== undefined && { version: event.groupVersion }),
      ...(event.call !== undefined && { call: event.call }),
    })})`);
  return seq;
}
