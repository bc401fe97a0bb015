/**
 * How a device enters a chat's MLS group: from a Welcome that names one of its key packages, or by
 * external commit from the chat's GroupInfo (RFC 9420 §12.4.3.2), for a new device of a member.
 */
import { createGroupInfoWithExternalPubAndRatchetTree, emptyPskIndex, joinGroup, joinGroupExternal, type ClientState } from "ts-mls";
import type { MlsWelcome } from "../../gen/cyphr/mls/v1/mls_chats_pb.js";
import { decodeMessage, suiteImpl, toHex, wire } from "./codec.js";
import { mlsFailure } from "./errors.js";
import type { GroupStore, StoredKeyPackage } from "./group-store.js";

/**
 * Joins from the newest Welcome naming a key package this device holds; false if none does. A
 * Welcome at or before what the device already processed of the chat is stale and never rejoined.
 */
export async function joinFromWelcomes(groups: GroupStore, chatId: string, welcomes: MlsWelcome[]): Promise<boolean> {
  const processed = (await groups.position(chatId))?.lastSeq;
  for (const entry of [...welcomes].reverse()) {
    if (processed !== undefined && entry.commitSeq <= processed) continue;
    const message = decodeMessage(entry.welcome);
    if (message?.wireformat !== "mls_welcome") continue;
    for (const secret of message.welcome.secrets) {
      const ref = toHex(secret.newMember);
      const kp = await groups.keyPackage(ref);
      if (!kp) continue;
      const state = await joinGroup(message.welcome, kp.publicPackage, kp.privatePackage, emptyPskIndex, await suiteImpl());
      await groups.saveState(chatId, state, { lastSeq: entry.commitSeq, joinedSeq: entry.commitSeq });
      // A one-time package is used up; the last-resort one may still be named by other Welcomes.
      if (!kp.lastResort) await groups.deleteKeyPackage(ref);
      return true;
    }
  }
  return false;
}

/** An external commit adding this device's leaf (from a fresh key package) to the group of a GroupInfo. */
export async function buildExternalJoin(chatId: string, groupInfoBytes: Uint8Array, kp: StoredKeyPackage): Promise<{ commit: Uint8Array; groupInfo: Uint8Array; newState: ClientState }> {
  const message = decodeMessage(groupInfoBytes);
  if (message?.wireformat !== "mls_group_info") throw mlsFailure("data_loss", `the server's GroupInfo of chat ${chatId} does not decode`);
  const impl = await suiteImpl();
  const { publicMessage, newState } = await joinGroupExternal(message.groupInfo, kp.publicPackage, kp.privatePackage, false, impl);
  const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(newState, [], impl);
  return { commit: wire.publicMessage(publicMessage), groupInfo: wire.groupInfo(groupInfo), newState };
}
