/**
 * Building one commit of a chat (RFC 9420 §12.4): the commit itself, the Welcome for the added
 * devices, and the GroupInfo of the new epoch (with the ratchet tree and external public key, so
 * that a new device of a member can join by external commit). Pure: nothing is sent or saved.
 */
import { type ClientState, createCommit, createGroupInfoWithExternalPubAndRatchetTree, encodeMlsMessage, type Proposal } from "ts-mls";
import type { ClaimedKeyPackage } from "../../gen/cyphr/mls/v1/key_packages_pb.js";
import { parseDeviceCredentialIdentity } from "../../mls/credential.js";
import { decodeMessage, suiteImpl, wire } from "./codec.js";
import { mlsFailure } from "./errors.js";

export interface BuiltCommit {
  commit: Uint8Array;
  /** Empty when the commit adds nobody. */
  welcome: Uint8Array;
  groupInfo: Uint8Array;
  newState: ClientState;
}

export async function buildCommit(state: ClientState, proposals: Proposal[]): Promise<BuiltCommit> {
  const impl = await suiteImpl();
  const result = await createCommit({ state, cipherSuite: impl }, { extraProposals: proposals, ratchetTreeExtension: true });
  const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(result.newState, [], impl);
  return {
    commit: encodeMlsMessage(result.commit),
    welcome: result.welcome ? wire.welcome(result.welcome) : new Uint8Array(0),
    groupInfo: wire.groupInfo(groupInfo),
    newState: result.newState,
  };
}

/** Add proposals for key packages the server handed out. */
export function addProposals(claimed: ClaimedKeyPackage[]): Proposal[] {
  return claimed.map((c): Proposal => {
    const m = decodeMessage(c.keyPackage);
    if (m?.wireformat !== "mls_key_package") throw mlsFailure("data_loss", `the server handed out a key package of device ${c.deviceId} that does not decode`);
    return { proposalType: "add", add: { keyPackage: m.keyPackage } };
  });
}

/** Remove proposals for every leaf of the given users. */
export function removeProposals(state: ClientState, cyphrIds: string[]): Proposal[] {
  return cyphrIds.flatMap((id) => leavesOf(state, id)).map((removed): Proposal => ({ proposalType: "remove", remove: { removed } }));
}

/** Leaf indices of a user's devices in a group state. */
export function leavesOf(state: ClientState, cyphrId: string): number[] {
  const leaves: number[] = [];
  state.ratchetTree.forEach((node, i) => {
    if (node?.nodeType !== "leaf" || node.leaf.credential.credentialType !== "basic") return;
    if (parseDeviceCredentialIdentity(node.leaf.credential.identity)?.cyphrId === cyphrId) leaves.push(i / 2);
  });
  return leaves;
}
