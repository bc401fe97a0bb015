import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { CyphrError } from "../errors.js";
import { newRecoveryPhrase, recoveryKeyFromPhrase } from "./recovery-phrase.js";

describe("recovery phrase", () => {
  it("has 24 words and gives the same Ed25519 key however it is typed", () => {
    const phrase = newRecoveryPhrase();
    expect(phrase.split(" ")).toHaveLength(24);
    const key = recoveryKeyFromPhrase(phrase);
    expect(recoveryKeyFromPhrase(`  ${phrase.toUpperCase().split(" ").join("   ")} `).publicKey).toEqual(key.publicKey);
    expect(ed25519.getPublicKey(key.secretKey)).toEqual(key.publicKey);
    expect(recoveryKeyFromPhrase(newRecoveryPhrase()).publicKey).not.toEqual(key.publicKey);
  });

  it("is derived from a known phrase to a fixed key (the derivation never changes)", () => {
    const phrase = Array(23).fill("abandon").concat("art").join(" ");
    expect(Buffer.from(recoveryKeyFromPhrase(phrase).publicKey).toString("hex")).toMatchInlineSnapshot(
      `"68a6690dd5910f3446c0426f1beba2f507f039a1c1e1dec6c605690b115bbc27"`,
    );
  });

  it("refuses a wrong checksum, a word not in the list and a short phrase", () => {
    const words = newRecoveryPhrase().split(" ");
    // 24 × "abandon" is 256 zero bits whose checksum word would be "art".
    const wrongChecksum = Array(24).fill("abandon").join(" ");
    for (const bad of [wrongChecksum, [...words.slice(0, 23), "notaword"].join(" "), words.slice(0, 12).join(" ")]) {
      expect(() => recoveryKeyFromPhrase(bad)).toThrow(CyphrError);
    }
  });
});
