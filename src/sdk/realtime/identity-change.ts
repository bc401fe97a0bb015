/**
 * What Live does with `identity_changed` (an account recovered with its recovery phrase: a new
 * identity key, its old devices gone): the new key is checked against the server's device list,
 * stored as this device's view of the peer with the new safety number and where the change falls
 * in each shared chat, and the shared chats' MLS groups follow the new device list (as for
 * devices_changed: old devices' leaves removed, the new device added, by the device that acts).
 */
import { equalBytes } from "../bytes.js";
import { CyphrError } from "../errors.js";
import type { MlsDevice } from "../mls/mls-device.js";
import type { PeerIdentities } from "../peers.js";
import { safetyNumber } from "../safety-number.js";
import type { DevicesChangedEvent, IdentityChangedEvent, LiveEvent } from "./events.js";
import type { LiveAccount } from "./options.js";

export interface PeerSyncDeps {
  account: LiveAccount;
  mls: MlsDevice;
  peers: PeerIdentities;
  emit(event: LiveEvent): Promise<void>;
  /** A failure as the handler reports it: transient ones are thrown again, others become error events. */
  report(err: unknown, chatId: string): Promise<void>;
}

/** Brings every chat of `chatIds` in line with an account's verified devices; the chats this device updated. */
export async function syncPeerDevices(deps: PeerSyncDeps, cyphrId: string, chatIds: string[]): Promise<DevicesChangedEvent["updatedChats"]> {
  const list = await deps.account.listDevices(cyphrId);
  const devices = list.devices.map((d) => ({ deviceId: d.deviceId, signingKey: d.signingKey }));
  const updatedChats: DevicesChangedEvent["updatedChats"] = [];
  for (const chatId of chatIds) {
    try {
      const update = await deps.mls.updateDevicesOf(chatId, cyphrId, devices);
      if (update) updatedChats.push({ chatId, added: update.added, removed: update.removed });
    } catch (err) {
      await deps.report(err, chatId);
    }
  }
  return updatedChats;
}

/**
 * One identity_changed event (`at`: when the server recorded it), checked against the server's
 * device list. The peer's current key: stored, the chats follow, the event comes (a replay of the
 * stored current change, e.g. a resume from an older cursor, is not stored twice). A key that is no
 * longer the server's is superseded when a later change explains it: it is already in the stored
 * history (nothing to do), or every device the server lists for the peer, certified by the server's
 * key, was added after the event; it is stored as history without an event (the newer
 * identity_changed follows). Otherwise, a `data_loss` error and nothing is stored.
 */
export async function identityChanged(deps: PeerSyncDeps, peer: { userId: string; cyphrId: string; identityKey: Uint8Array }, at: Date): Promise<void> {
  const { account, mls } = deps;
  // This account's own recovery: this device is the new one, and it has no peer to warn about.
  if (peer.userId === account.userId) return;
  const stored = await deps.peers.get(peer.cyphrId);
  const recorded = stored?.changes.some((c) => equalBytes(c.identityKey, peer.identityKey)) ?? false;
  if (recorded && !equalBytes(stored!.identityKey, peer.identityKey)) return; // an older change, already history
  const server = await account.listDevices(peer.cyphrId);
  const current = equalBytes(server.identityPublicKey, peer.identityKey);
  const superseded = !current && server.devices.length > 0 && server.devices.every((d) => d.createdAt !== undefined && d.createdAt > at);
  if (!current && !superseded) {
    throw new CyphrError(
      "data_loss",
      `The server reports a different identity key for ${peer.cyphrId} than its identity_changed event names, and no later change explains it: do not trust its devices; compare safety numbers out of band.`,
    );
  }
  const chats: { chatId: string; afterSeq: bigint }[] = [];
  for (const chatId of await mls.chatIds()) {
    if ((await mls.leavesOf(chatId, peer.cyphrId)).length > 0) chats.push({ chatId, afterSeq: (await mls.position(chatId)).lastSeq });
  }
  const number = safetyNumber({ cyphrId: account.cyphrId, identityKey: account.identityPublicKey }, { cyphrId: peer.cyphrId, identityKey: peer.identityKey });
  const change = { at: new Date(), identityKey: peer.identityKey, safetyNumber: number, chats };
  if (superseded) {
    if (!recorded) await deps.peers.recordSuperseded({ userId: peer.userId, cyphrId: peer.cyphrId }, change);
    return;
  }
  if (!recorded) await deps.peers.recordChange({ userId: peer.userId, cyphrId: peer.cyphrId }, change);
  const updatedChats = await syncPeerDevices(
    deps,
    peer.cyphrId,
    chats.map((c) => c.chatId),
  );
  const event: IdentityChangedEvent = { kind: "identity_changed", ...peer, safetyNumber: number, chatIds: chats.map((c) => c.chatId), updatedChats };
  await deps.emit(event);
}
