/**
 * How a device enters a chat's MLS group: from a Welcome that names one of its key packages, or by
 * external commit from the chat's GroupInfo (RFC 9420 §12.4.3.2), for a new device of a member.
 */

import type { Client } from "@connectrpc/connect";
import { type ClientState, createGroupInfoWithExternalPubAndRatchetTree, emptyPskIndex, joinGroup, joinGroupExternal } from "ts-mls";
import type { MlsChatsService, MlsWelcome } from "../../gen/cyphr/mls/v1/mls_chats_pb.js";
import { MAX_COMMIT_ATTEMPTS, resend } from "./calls.js";
import { decodeMessage, suiteImpl, toHex, wire } from "./codec.js";
import { isStaleEpoch, mlsFailure } from "./errors.js";
import type { GroupStore, StoredKeyPackage } from "./group-store.js";
import { type KeyPackages, refHex } from "./key-packages.js";
import type { CommitResult } from "./mls-device.js";

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
export async function buildExternalJoin(
  chatId: string,
  groupInfoBytes: Uint8Array,
  kp: StoredKeyPackage,
): Promise<{ commit: Uint8Array; groupInfo: Uint8Array; newState: ClientState }> {
  const message = decodeMessage(groupInfoBytes);
  if (message?.wireformat !== "mls_group_info") throw mlsFailure("data_loss", `the server's GroupInfo of chat ${chatId} does not decode`);
  const impl = await suiteImpl();
  const { publicMessage, newState } = await joinGroupExternal(message.groupInfo, kp.publicPackage, kp.privatePackage, false, impl);
  const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(newState, [], impl);
  return { commit: wire.publicMessage(publicMessage), groupInfo: wire.groupInfo(groupInfo), newState };
}

/** Joins a chat of the account by external commit from the latest GroupInfo, again on a "stale epoch", MAX_COMMIT_ATTEMPTS in all. Callers hold the chat's lock. */
export async function joinByExternalCommit(
  deps: { chats: Client<typeof MlsChatsService>; keyPackages: KeyPackages; groups: GroupStore; auth: () => Promise<{ headers: Record<string, string> }> },
  chatId: string,
): Promise<CommitResult> {
  for (let attempt = 1; ; attempt++) {
    const info = await deps.chats.getGroupInfo({ chatId }, await deps.auth());
    const kp = await deps.keyPackages.create();
    const { commit, groupInfo, newState } = await buildExternalJoin(chatId, info.groupInfo, kp);
    const request = { chatId, clientMessageId: crypto.randomUUID(), commit, groupInfo };
    try {
      const res = await resend(async () => deps.chats.joinMlsChat(request, await deps.auth()));
      await deps.groups.markOwn(chatId, res.messageId);
      await deps.groups.saveState(chatId, newState, { lastSeq: res.seq, joinedSeq: res.seq });
      await deps.groups.deleteKeyPackage(await refHex(kp.publicPackage));
      return { chatId, seq: res.seq, epoch: res.epoch, messageId: res.messageId, welcomed: [] };
    } catch (err) {
      if (!isStaleEpoch(err) || attempt >= MAX_COMMIT_ATTEMPTS) throw err;
    }
  }
}
