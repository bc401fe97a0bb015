import type { Db } from "../db/types.js";
import { activeMemberIds, recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";

/**
 * Records the group_changed event for the system message at `seq`: every current member
 * receives it, and so does a member who just left or was removed (`alsoTo`).
 */
export async function announceGroupChange(db: Db, chatId: string, seq: number, alsoTo: readonly string[] = []): Promise<void> {
  const recipients = new Set([...(await activeMemberIds(db, chatId)), ...alsoTo]);
  await recordEvents(db, [{ kind: DurableKind.groupChanged, chatId, seq, data: null, recipients: [...recipients] }]);
}
