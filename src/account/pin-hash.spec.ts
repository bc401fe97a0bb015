import { describe, expect, it } from "vitest";
import { PinHashing, requirePin } from "./pin-hash.js";

describe("PinHashing", () => {
  const hashing = new PinHashing({ memoryKib: 2048, timeCost: 2, parallelism: 1 });

  it("hashes with argon2id and the configured costs, and verifies", async () => {
    const hash = await hashing.hash("2468");
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=2048,p=1,t=2\$/);
    expect(await hashing.verify(hash, "2468")).toBe(true);
    expect(await hashing.verify(hash, "2469")).toBe(false);
    expect(await hashing.verify("not a hash", "2468")).toBe(false);
  });

  it("reports a hash made with lower costs as weaker, whatever the parameter order", () => {
    expect(hashing.isWeakerThanConfigured("$argon2id$v=19$m=2048,p=1,t=2$c2FsdA$aGFzaA")).toBe(false);
    expect(hashing.isWeakerThanConfigured("$argon2id$v=19$m=1024,p=1,t=2$c2FsdA$aGFzaA")).toBe(true);
    expect(hashing.isWeakerThanConfigured("$argon2id$v=19$t=1,m=4096,p=1$c2FsdA$aGFzaA")).toBe(true);
    expect(hashing.isWeakerThanConfigured("$argon2id$v=19$m=4096,t=3,p=2$c2FsdA$aGFzaA")).toBe(false);
  });

  it("requirePin counts code points after NFC normalisation", () => {
    // Six code points as typed, four once composed.
    expect(requirePin("pin", "e\u0301e\u0301ab")).toBe("\u00e9\u00e9ab");
    expect(() => requirePin("pin", "e\u0301e\u0301e\u0301")).toThrow("pin must be 4 to 64 characters, got 3");
  });
});
