import { describe, expect, it } from "vitest";
import { formatBytes, progressLine } from "./progress-bar.js";

describe("the transfer progress bar", () => {
  it("shows the share done, the bytes, the rate and the time left", () => {
    expect(progressLine("up", 5 * 1024 * 1024, 20 * 1024 * 1024, 2000)).toBe("up [######------------------]  25%  5.0 MiB of 20 MiB  2.5 MiB/s  6s left");
    expect(progressLine("down", 20 * 1024 * 1024, 20 * 1024 * 1024, 4000)).toMatch(/\[#{24}\] 100% {2}20 MiB of 20 MiB {2}5\.0 MiB\/s {2}0s left$/);
  });

  it("says ? for the time left before any byte moved, and counts minutes", () => {
    expect(progressLine("up", 0, 100, 0)).toContain("0 B/s  ? left");
    expect(progressLine("up", 1024, 200 * 1024, 1000)).toContain("3m19s left");
  });

  it("formats sizes in binary units", () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(3 * 1024 ** 3)]).toEqual(["512 B", "1.5 KiB", "3.0 GiB"]);
  });
});
