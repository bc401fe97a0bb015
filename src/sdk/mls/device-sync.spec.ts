import type { ClientState } from "ts-mls";
import { describe, expect, it } from "vitest";
import { deviceCredentialIdentity } from "../../mls/credential.js";
import { planDeviceUpdate } from "./device-sync.js";

/** A group state with just what planning reads: leaves (cyphr id, device id, or blank) and this device's leaf. */
function groupOf(leaves: ([string, number] | null)[], ownLeaf: number): ClientState {
  const ratchetTree = leaves.flatMap((leaf, i) => {
    const node = leaf
      ? { nodeType: "leaf", leaf: { credential: { credentialType: "basic", identity: deviceCredentialIdentity(leaf[0], leaf[1]) } } }
      : undefined;
    return i < leaves.length - 1 ? [node, { nodeType: "parent" }] : [node];
  });
  return { ratchetTree, privatePath: { leafIndex: ownLeaf } } as unknown as ClientState;
}

const key = new Uint8Array(32);
const devices = (...ids: number[]) => ids.map((deviceId) => ({ deviceId, signingKey: key }));

describe("planning a chat's device update", () => {
  it("adds listed devices without a leaf and removes leaves of unlisted ones", () => {
    const state = groupOf(
      [
        ["alice", 1],
        ["bob", 1],
        ["bob", 2],
      ],
      0,
    );
    expect(planDeviceUpdate(state, "bob", devices(1, 3))).toEqual({ removeLeaves: [2], removedDevices: [2], missingDevices: [3], actor: true });
  });

  it("has nothing to do for an account without leaves or one whose devices all have theirs", () => {
    const state = groupOf(
      [
        ["alice", 1],
        ["bob", 1],
      ],
      0,
    );
    expect(planDeviceUpdate(state, "carol", devices(1))).toBeUndefined();
    expect(planDeviceUpdate(state, "bob", devices(1))).toBeUndefined();
  });

  it("is acted on by the lowest leaf that stays, skipping blank leaves and leaves being removed", () => {
    // Leaf 0 blank, leaf 1 is Bob's removed tablet, leaf 2 Alice, leaf 3 Bob's phone.
    const leaves: ([string, number] | null)[] = [null, ["bob", 2], ["alice", 1], ["bob", 1]];
    expect(planDeviceUpdate(groupOf(leaves, 2), "bob", devices(1))?.actor).toBe(true);
    expect(planDeviceUpdate(groupOf(leaves, 3), "bob", devices(1))?.actor).toBe(false);
    expect(planDeviceUpdate(groupOf(leaves, 1), "bob", devices(1))?.actor).toBe(false);
  });
});
