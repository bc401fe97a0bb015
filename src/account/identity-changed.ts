import type { Db } from "../db/types.js";
import { deviceAudience } from "../devices/repo.js";
import { recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";

/**
 * Records the durable identity_changed event (the safety-number change) inside the
 * recovery's transaction, for the account and everyone who shares a chat with it.
 */
export async function recordIdentityChanged(tx: Db, userId: string, cyphrId: string, identityKey: Uint8Array): Promise<void> {
  const recipients = await deviceAudience(tx, userId);
  const data = { user: userId, cyphrId, identityKey: Buffer.from(identityKey).toString("base64") };
  await recordEvents(tx, [{ kind: DurableKind.identityChanged, chatId: null, seq: null, data, recipients }]);
}
