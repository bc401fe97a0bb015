/**
 * What Live does once per start (and after a resync) when the stream has caught up: tops the
 * device's key packages up, and joins every MLS chat of the account this device has no state for:
 * from its Welcome when one waits, else by external commit (a new device, linked after the chat
 * began, whose Welcome nobody could make because it had no key packages yet).
 */
import type { Client } from "@connectrpc/connect";
import { ChatProtocol, MembershipState, type MessagingService } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { CyphrError } from "../errors.js";
import type { MlsDevice } from "../mls/mls-device.js";
import type { LiveEvent } from "./events.js";

export interface PrepareDeps {
  mls: MlsDevice;
  messaging: Client<typeof MessagingService>;
  keyPackageTarget: number;
  call<T>(work: (auth: { headers: Record<string, string> }) => Promise<T>): Promise<T>;
  /** Runs one step; a transient failure throws (Live reconnects), others become error events. */
  guarded(work: () => Promise<unknown>, chatId?: string): Promise<void>;
  emit(event: LiveEvent): Promise<void>;
}

export async function prepareDevice(deps: PrepareDeps): Promise<void> {
  const { mls } = deps;
  await deps.guarded(() => mls.ensureKeyPackages(deps.keyPackageTarget));
  let pageToken = "";
  do {
    const page = await deps.call((auth) => deps.messaging.listChats({ pageToken, limit: 200 }, auth));
    for (const chat of page.chats) {
      // Epoch 0: no commit yet, the creator's first commit will Welcome this device.
      if (chat.protocol !== ChatProtocol.MLS || chat.membership !== MembershipState.ACTIVE || chat.mlsEpoch === 0n) continue;
      if (await mls.hasChat(chat.chatId)) continue;
      await deps.guarded(async () => {
        try {
          await mls.acceptWelcome(chat.chatId);
        } catch (err) {
          if (!(err instanceof CyphrError && err.code === "not_found")) throw err;
          await mls.joinOwnChat(chat.chatId);
        }
        await deps.emit({ kind: "chat", chatId: chat.chatId, change: "joined", seq: (await mls.position(chat.chatId)).joinedSeq });
      }, chat.chatId);
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
}
