import { describe, expect, it } from "vitest";
import { backoffDelay, reconnectDelay } from "./backoff.js";

const policy = (random: number) => ({ baseDelayMs: 500, maxDelayMs: 30_000, random: () => random });

describe("reconnect backoff", () => {
  it("doubles its ceiling per failure from the base delay, capped at the maximum", () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => backoffDelay(n, policy(0.999999)));
    expect(ceilings).toEqual([499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999, 29_999]);
  });

  it("is full jitter: anywhere from 0 up to the ceiling", () => {
    expect(backoffDelay(4, policy(0))).toBe(0);
    expect(backoffDelay(4, policy(0.5))).toBe(2000);
  });

  it("waits at least the server's retry-after, but never beyond the cap", () => {
    expect(reconnectDelay(1, policy(0), 1200)).toBe(1200);
    expect(reconnectDelay(1, policy(0), 10 ** 9)).toBe(30_000);
    expect(reconnectDelay(3, policy(0.5))).toBe(1000);
  });
});
