import { describe, expect, it } from "vitest";
import { MAX_IDENTITY_CHANGES, PeerIdentities } from "./peers.js";
import { MemoryStore } from "./store.js";

const key = (byte: number) => new Uint8Array(32).fill(byte);

describe("the stored view of peers' identities", () => {
  it("keeps the latest key and safety number, and places each change in the chats it was recorded for", async () => {
    const peers = new PeerIdentities(new MemoryStore());
    const bob = { userId: "u-bob", cyphrId: "bob" };
    await peers.recordChange(bob, { at: new Date(1000), identityKey: key(1), safetyNumber: "one", chats: [{ chatId: "c1", afterSeq: 5n }] });
    await peers.recordChange(
      { userId: "u-carol", cyphrId: "carol" },
      { at: new Date(1500), identityKey: key(3), safetyNumber: "three", chats: [{ chatId: "c1", afterSeq: 2n }] },
    );
    await peers.recordChange(bob, {
      at: new Date(2000),
      identityKey: key(2),
      safetyNumber: "two",
      chats: [
        { chatId: "c1", afterSeq: 9n },
        { chatId: "c2", afterSeq: 1n },
      ],
    });
    expect(await peers.get("bob")).toMatchObject({
      userId: "u-bob",
      identityKey: key(2),
      safetyNumber: "two",
      changes: [{ safetyNumber: "one" }, { safetyNumber: "two" }],
    });
    expect((await peers.noticesIn("c1")).map((n) => [n.cyphrId, n.afterSeq, n.safetyNumber])).toEqual([
      ["carol", 2n, "three"],
      ["bob", 5n, "one"],
      ["bob", 9n, "two"],
    ]);
    expect(await peers.noticesIn("c3")).toEqual([]);
  });

  it("keeps at most MAX_IDENTITY_CHANGES changes per peer, dropping the oldest", async () => {
    const peers = new PeerIdentities(new MemoryStore());
    for (let i = 0; i < MAX_IDENTITY_CHANGES + 3; i++) {
      await peers.recordChange({ userId: "u", cyphrId: "bob" }, { at: new Date(i), identityKey: key(i), safetyNumber: String(i), chats: [] });
    }
    const changes = (await peers.get("bob"))!.changes;
    expect(changes).toHaveLength(MAX_IDENTITY_CHANGES);
    expect(changes[0]!.safetyNumber).toBe("3");
  });

  it("records a superseded change as history only: the current key stays, or is that one until a newer change", async () => {
    const peers = new PeerIdentities(new MemoryStore());
    const bob = { userId: "u-bob", cyphrId: "bob" };
    await peers.recordSuperseded(bob, { at: new Date(1000), identityKey: key(1), safetyNumber: "one", chats: [] });
    expect(await peers.get("bob")).toMatchObject({ identityKey: key(1), safetyNumber: "one", changes: [{ safetyNumber: "one" }] });
    await peers.recordChange(bob, { at: new Date(2000), identityKey: key(2), safetyNumber: "two", chats: [] });
    await peers.recordSuperseded(bob, { at: new Date(3000), identityKey: key(3), safetyNumber: "three", chats: [] });
    expect(await peers.get("bob")).toMatchObject({
      identityKey: key(2),
      safetyNumber: "two",
      changes: [{ safetyNumber: "one" }, { safetyNumber: "two" }, { safetyNumber: "three" }],
    });
  });
});
