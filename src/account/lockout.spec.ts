import { describe, expect, it } from "vitest";
import { lockDurationMs, MAX_LOCK_MS } from "./lockout.js";

describe("lockout schedule", () => {
  it("four failures cost nothing; the fifth locks 30 s, each further one doubles it", () => {
    expect([1, 2, 3, 4].map(lockDurationMs)).toEqual([0, 0, 0, 0]);
    expect([5, 6, 7, 8].map(lockDurationMs)).toEqual([30_000, 60_000, 120_000, 240_000]);
  });

  it("never locks longer than a day, however many failures", () => {
    expect(lockDurationMs(16)).toBe(30_000 * 2 ** 11);
    expect(lockDurationMs(17)).toBe(MAX_LOCK_MS);
    expect(lockDurationMs(1_000_000)).toBe(MAX_LOCK_MS);
  });
});
