import type { Db } from "../db/types.js";
import { recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";

/** Records key_packages_low for the account (every device sees it; the one named acts), in the claim's transaction. */
export async function recordKeyPackagesLow(
  tx: Db,
  userId: string,
  ciphersuite: number,
  devices: readonly { deviceId: number; oneTime: number }[],
): Promise<void> {
  await recordEvents(
    tx,
    devices.map((d) => ({
      kind: DurableKind.keyPackagesLow,
      chatId: null,
      seq: null,
      data: { device: d.deviceId, suite: ciphersuite, count: d.oneTime },
      recipients: [userId],
    })),
  );
}
