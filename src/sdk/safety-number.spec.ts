import { describe, expect, it } from "vitest";
import { safetyNumber } from "./safety-number.js";

const key = (byte: number) => new Uint8Array(32).fill(byte);

describe("safety numbers", () => {
  it("are 60 digits in groups of 5, the same on both sides", () => {
    const alice = { cyphrId: "alice", identityKey: key(1) };
    const bob = { cyphrId: "bob", identityKey: key(2) };
    const number = safetyNumber(alice, bob);
    expect(number).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(safetyNumber(bob, alice)).toBe(number);
  });

  it("change when either identity key changes", () => {
    const alice = { cyphrId: "alice", identityKey: key(1) };
    const number = safetyNumber(alice, { cyphrId: "bob", identityKey: key(2) });
    expect(safetyNumber(alice, { cyphrId: "bob", identityKey: key(3) })).not.toBe(number);
    expect(safetyNumber({ cyphrId: "alice", identityKey: key(4) }, { cyphrId: "bob", identityKey: key(2) })).not.toBe(number);
    // The halves differ per account: swapping the keys between the two ids gives another number.
    expect(safetyNumber({ cyphrId: "alice", identityKey: key(2) }, { cyphrId: "bob", identityKey: key(1) })).not.toBe(number);
  });
});
