/**
 * Keeping a chat's MLS group in step with a member's device list (the realtime `devices_changed`
 * event): devices the account no longer has are removed, verified devices that have no leaf yet are
 * added (their key packages claimed, a Welcome routed to them). One device acts per chat so that the
 * members' devices do not all commit the same change: the one at the lowest leaf index among the
 * leaves that stay. The plan is built again on every commit attempt: a commit that won meanwhile may
 * have made part of the change.
 */
import type { ClientState, Proposal } from "ts-mls";
import type { ClaimedKeyPackage } from "../../gen/cyphr/mls/v1/key_packages_pb.js";
import { parseDeviceCredentialIdentity } from "../../mls/credential.js";
import { equalBytes } from "../bytes.js";
import { decodeMessage } from "./codec.js";
import type { CommitResult } from "./mls-device.js";

/** What updateDevices needs of the engine (MlsDevice). */
interface Engine {
  sync(chatId: string): Promise<unknown>;
  state(chatId: string): Promise<ClientState>;
  claimKeyPackages(cyphrId: string): Promise<ClaimedKeyPackage[]>;
  commit(chatId: string, proposals: (state: ClientState) => Proposal[]): Promise<CommitResult>;
}

export interface DeviceUpdate {
  added: number[];
  removed: number[];
  result: CommitResult;
}

/** A device of the account as its verified device list has it. */
export interface VerifiedDevice {
  deviceId: number;
  /** The Ed25519 key the identity key certified: its key packages must be signed with it. */
  signingKey: Uint8Array;
}

export interface DevicePlan {
  /** Leaf indices of the account's devices that are no longer on its list. */
  removeLeaves: number[];
  /** Removed device ids (for the caller's report). */
  removedDevices: number[];
  /** Devices on the list with no leaf in the group. */
  missingDevices: number[];
  /** This device is the one that commits the change. */
  actor: boolean;
}

/** What a chat needs for an account's current devices; undefined when the account has no leaf there or nothing is to change. */
export function planDeviceUpdate(state: ClientState, cyphrId: string, devices: VerifiedDevice[]): DevicePlan | undefined {
  const wanted = new Set(devices.map((d) => d.deviceId));
  const all: number[] = [];
  const theirs = new Map<number, number>(); // leaf index → device id
  state.ratchetTree.forEach((node, i) => {
    if (node?.nodeType !== "leaf") return;
    all.push(i / 2);
    const credential = node.leaf.credential;
    const who = credential.credentialType === "basic" ? parseDeviceCredentialIdentity(credential.identity) : undefined;
    if (who?.cyphrId === cyphrId) theirs.set(i / 2, who.deviceId);
  });
  if (theirs.size === 0) return undefined;
  const removeLeaves = [...theirs].filter(([, device]) => !wanted.has(device)).map(([leaf]) => leaf);
  const present = new Set(theirs.values());
  const missingDevices = [...wanted].filter((d) => !present.has(d)).sort((a, b) => a - b);
  if (removeLeaves.length === 0 && missingDevices.length === 0) return undefined;
  const staying = all.filter((leaf) => !removeLeaves.includes(leaf));
  return {
    removeLeaves,
    removedDevices: removeLeaves.map((leaf) => theirs.get(leaf)!).sort((a, b) => a - b),
    missingDevices,
    actor: staying.length > 0 && Math.min(...staying) === state.privatePath.leafIndex,
  };
}

/**
 * The proposals of a plan: removes, and adds for the claimed packages of missing devices whose
 * package is signed by the device's certified key (anything else the server handed out is skipped).
 */
export function deviceUpdateProposals(plan: DevicePlan, claimed: ClaimedKeyPackage[], devices: VerifiedDevice[]): { proposals: Proposal[]; added: number[] } {
  const proposals: Proposal[] = plan.removeLeaves.map((removed): Proposal => ({ proposalType: "remove", remove: { removed } }));
  const added: number[] = [];
  for (const c of claimed) {
    if (!plan.missingDevices.includes(c.deviceId)) continue;
    const device = devices.find((d) => d.deviceId === c.deviceId);
    const m = decodeMessage(c.keyPackage);
    if (!device || m?.wireformat !== "mls_key_package" || !equalBytes(m.keyPackage.leafNode.signaturePublicKey, device.signingKey)) continue;
    proposals.push({ proposalType: "add", add: { keyPackage: m.keyPackage } });
    added.push(c.deviceId);
  }
  return { proposals, added: added.sort((a, b) => a - b) };
}

/** Processes what arrived, then, if this device is the one to act, commits the chat's device update. */
export async function updateDevices(engine: Engine, chatId: string, cyphrId: string, devices: VerifiedDevice[]): Promise<DeviceUpdate | undefined> {
  await engine.sync(chatId);
  const state = await engine.state(chatId);
  if (state.groupActiveState.kind !== "active") return undefined;
  const plan = planDeviceUpdate(state, cyphrId, devices);
  if (!plan?.actor) return undefined;
  const claimed = plan.missingDevices.length > 0 ? await engine.claimKeyPackages(cyphrId) : [];
  if (plan.removeLeaves.length === 0 && !claimed.some((c) => plan.missingDevices.includes(c.deviceId))) return undefined;
  let update = { added: [] as number[], removed: [] as number[] };
  const result = await engine.commit(chatId, (current) => {
    const now = planDeviceUpdate(current, cyphrId, devices);
    const built = now ? deviceUpdateProposals(now, claimed, devices) : { proposals: [], added: [] };
    update = { added: built.added, removed: now?.removedDevices ?? [] };
    return built.proposals;
  });
  return update.added.length > 0 || update.removed.length > 0 ? { ...update, result } : undefined;
}
