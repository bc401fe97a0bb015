import type { Db } from "../db/types.js";
import { recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";
import { deviceAudience } from "./repo.js";

/**
 * Records the durable devices_changed event of an account inside the change's
 * transaction, for the account itself and everyone who shares a chat with it.
 */
export async function recordDevicesChanged(tx: Db, userId: string, cyphrId: string): Promise<void> {
  const recipients = await deviceAudience(tx, userId);
  await recordEvents(tx, [{ kind: DurableKind.devicesChanged, chatId: null, seq: null, data: { user: userId, cyphrId }, recipients }]);
}
