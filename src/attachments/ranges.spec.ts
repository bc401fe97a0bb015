import { describe, expect, it } from "vitest";
import { firstGap, partsOf, receivedRanges } from "./ranges.js";

describe("attachment byte ranges", () => {
  it("merges adjacent stored chunks and shortens the last one to the upload's end", () => {
    expect(receivedRanges([0, 1, 3, 4], 10, 45)).toEqual([
      { offset: 0, length: 20 },
      { offset: 30, length: 15 },
    ]);
    expect(receivedRanges([], 10, 45)).toEqual([]);
  });

  it("names the first byte range still missing, or none when all arrived", () => {
    expect(firstGap(receivedRanges([0, 1, 3, 4], 10, 45), 45)).toEqual({ offset: 20, length: 10 });
    expect(firstGap(receivedRanges([1], 10, 45), 45)).toEqual({ offset: 0, length: 10 });
    expect(firstGap(receivedRanges([0, 1, 2], 10, 45), 45)).toEqual({ offset: 30, length: 15 });
    expect(firstGap(receivedRanges([0, 1, 2, 3, 4], 10, 45), 45)).toBeUndefined();
  });

  it("splits a byte range into the slices of the parts that hold it", () => {
    expect(partsOf(5, 27, 10)).toEqual([
      { part: 0, start: 5, end: 10 },
      { part: 1, start: 0, end: 10 },
      { part: 2, start: 0, end: 7 },
    ]);
    expect(partsOf(20, 20, 10)).toEqual([]);
    expect(partsOf(0, 10, 10)).toEqual([{ part: 0, start: 0, end: 10 }]);
  });
});
