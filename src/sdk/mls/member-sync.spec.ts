import type { ClientState } from "ts-mls";
import { describe, expect, it } from "vitest";
import { deviceCredentialIdentity } from "../../mls/credential.js";
import { planDepartedRemoval } from "./member-sync.js";

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

describe("planning the removal of departed members' leaves", () => {
  it("removes every leaf of each user who is not a current member", () => {
    const state = groupOf(
      [
        ["alice", 1],
        ["bob", 1],
        ["carol", 1],
        ["bob", 2],
      ],
      0,
    );
    expect(planDepartedRemoval(state, new Set(["alice", "carol"]))).toEqual({ removeLeaves: [1, 3], departed: ["bob"], actor: true });
  });

  it("has nothing to do when every leaf belongs to a member", () => {
    expect(planDepartedRemoval(groupOf([["alice", 1], null, ["bob", 1]], 0), new Set(["alice", "bob"]))).toBeUndefined();
  });

  it("is acted on by the lowest leaf that stays, skipping blank leaves and departed ones", () => {
    const leaves: ([string, number] | null)[] = [null, ["bob", 1], ["dave", 1], ["alice", 1]];
    const members = new Set(["alice", "dave"]);
    expect(planDepartedRemoval(groupOf(leaves, 2), members)?.actor).toBe(true);
    expect(planDepartedRemoval(groupOf(leaves, 3), members)?.actor).toBe(false);
  });
});
