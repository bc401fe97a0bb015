import { describe, expect, it } from "vitest";
import { EnvelopeReader, EnvelopeTooLargeError, envelope } from "./envelopes.js";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("EnvelopeReader", () => {
  it("splits envelopes that arrive whole, several to a chunk, or one byte at a time", () => {
    const wire = Buffer.concat([envelope(0, bytes(1, 2, 3)), envelope(2, bytes()), envelope(0, bytes(9))]);
    const whole = new EnvelopeReader(100).push(wire);
    expect(whole).toEqual([
      { flags: 0, data: bytes(1, 2, 3) },
      { flags: 2, data: bytes() },
      { flags: 0, data: bytes(9) },
    ]);
    const reader = new EnvelopeReader(100);
    const trickled = [...wire].flatMap((b) => reader.push(Buffer.from([b])));
    expect(trickled).toEqual(whole);
    expect(reader.buffered).toBe(0);
  });

  it("holds a partial envelope until the rest arrives", () => {
    const reader = new EnvelopeReader(100);
    const wire = envelope(0, bytes(7, 7, 7, 7));
    expect(reader.push(wire.subarray(0, 6))).toEqual([]);
    expect(reader.buffered).toBe(6);
    expect(reader.push(wire.subarray(6))).toEqual([{ flags: 0, data: bytes(7, 7, 7, 7) }]);
  });

  it("refuses a message over the limit from its length prefix alone", () => {
    const reader = new EnvelopeReader(10);
    const prefix = Buffer.from([0, 0, 0, 0, 11]);
    expect(() => reader.push(prefix)).toThrow(EnvelopeTooLargeError);
    expect(new EnvelopeReader(10).push(envelope(0, new Uint8Array(10)))).toHaveLength(1);
  });

  it("assembles a large message sent in many small chunks, and the envelopes around it", () => {
    const big = new Uint8Array(256 * 1024).map((_, i) => i % 251);
    const wire = Buffer.concat([envelope(0, bytes(1)), envelope(0, big), envelope(2, bytes(3, 4))]);
    const reader = new EnvelopeReader(1024 * 1024);
    const got = [];
    for (let at = 0; at < wire.length; at += 1000) got.push(...reader.push(wire.subarray(at, at + 1000)));
    expect(got.map((e) => [e.flags, e.data.length])).toEqual([
      [0, 1],
      [0, big.length],
      [2, 2],
    ]);
    expect(Buffer.from(got[1]!.data).equals(Buffer.from(big))).toBe(true);
    expect(reader.buffered).toBe(0);
  });

  it("returns copies, not views of the chunk", () => {
    const chunk = envelope(0, bytes(5, 6));
    const [message] = new EnvelopeReader(10).push(chunk);
    chunk[5] = 0;
    expect(message!.data).toEqual(bytes(5, 6));
    expect(message!.data.buffer.byteLength).toBe(2);
  });
});
