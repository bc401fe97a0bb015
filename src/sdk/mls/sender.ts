/**
 * Who sent an MLS application message, as MLS authenticates it: the sender's leaf (from the
 * encrypted sender data) and that leaf's credential, which names the Cyphr ID and device. The
 * server's sender_cyphr_id is routing metadata; this is what the message's signature proves.
 */
import type { CiphersuiteImpl, ClientState, PrivateMessage } from "ts-mls";
import { decryptSenderData } from "ts-mls/privateMessage.js";
import { parseDeviceCredentialIdentity } from "../../mls/credential.js";

export interface MlsSender {
  cyphrId: string;
  deviceId: number;
}

/** The sender of a private message of this state's epoch (or one it still keeps); undefined when it cannot say. */
export async function mlsSender(state: ClientState, message: PrivateMessage, impl: CiphersuiteImpl): Promise<MlsSender | undefined> {
  const epoch =
    message.epoch === state.groupContext.epoch
      ? { senderDataSecret: state.keySchedule.senderDataSecret, ratchetTree: state.ratchetTree }
      : state.historicalReceiverData.get(message.epoch);
  if (!epoch) return undefined;
  try {
    const data = await decryptSenderData(message, epoch.senderDataSecret, impl);
    const node = data ? epoch.ratchetTree[data.leafIndex * 2] : undefined;
    if (node?.nodeType !== "leaf" || node.leaf.credential.credentialType !== "basic") return undefined;
    return parseDeviceCredentialIdentity(node.leaf.credential.identity);
  } catch {
    return undefined;
  }
}
