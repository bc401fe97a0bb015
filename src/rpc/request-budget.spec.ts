import { describe, expect, it } from "vitest";
import { EnvelopeMeter } from "./request-budget.js";

const envelope = (length: number) => {
  const out = new Uint8Array(5 + length);
  new DataView(out.buffer).setUint32(1, length);
  return out;
};

describe("EnvelopeMeter", () => {
  it("counts the bytes of the envelope not yet complete, whatever the chunking", () => {
    const bytes = new Uint8Array([...envelope(10), ...envelope(0), ...envelope(300)]);
    for (const size of [1, 2, 3, 5, 7, 64, bytes.length]) {
      const meter = new EnvelopeMeter();
      const seen: number[] = [];
      for (let at = 0; at < bytes.length; at += size) {
        meter.push(bytes.subarray(at, at + size));
        seen.push(meter.partial);
      }
      const end = bytes.length;
      // After each chunk: the bytes past the last envelope boundary.
      const boundaries = [15, 20, end];
      const expected = seen.map((_, k) => {
        const at = Math.min((k + 1) * size, end);
        const last = [0, ...boundaries].filter((b) => b <= at).pop()!;
        return at - last;
      });
      expect(seen).toEqual(expected);
      expect(meter.partial).toBe(0);
    }
  });

  it("holds a header split across chunks as partial bytes", () => {
    const meter = new EnvelopeMeter();
    meter.push(envelope(4_000_000).subarray(0, 3));
    expect(meter.partial).toBe(3);
    meter.push(new Uint8Array([0, 0]));
    expect(meter.partial).toBe(5);
  });
});
