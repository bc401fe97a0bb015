import { randomBytes } from "node:crypto";
import { concatBytes } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { ciphertextSize, openSegment, SegmentOpener, sealSegment, segmentCount, segmentRange, TAG_BYTES } from "./format.js";

const CHUNK = 64 * 1024;
const key = crypto.getRandomValues(new Uint8Array(32));

/** The whole ciphertext of `file`, segment by segment, as the SDK uploads it. */
function seal(file: Uint8Array, chunk = CHUNK): Uint8Array {
  const n = segmentCount(file.length, chunk);
  const out = new Uint8Array(ciphertextSize(file.length, chunk));
  for (let i = 0, at = 0; i < n; i++) {
    const { start, end } = segmentRange(i, file.length, chunk);
    const sealed = sealSegment(key, i, i === n - 1, file.subarray(start, end));
    out.set(sealed, at);
    at += sealed.length;
  }
  return out;
}

function open(ciphertext: Uint8Array, pieceSize: number, size = ciphertext.length, chunk = CHUNK): Uint8Array {
  const opener = new SegmentOpener(key, chunk, size);
  const parts: Uint8Array[] = [];
  for (let at = 0; at < ciphertext.length; at += pieceSize) parts.push(...opener.push(ciphertext.subarray(at, at + pieceSize)));
  opener.end();
  return concatBytes(...parts);
}

describe("the cyphr-attachment-v1 ciphertext format", () => {
  const file = new Uint8Array(randomBytes(3 * (CHUNK - TAG_BYTES) + 1234));

  it("seals a file in chunk-sized segments and opens it from pieces of any size", () => {
    const ciphertext = seal(file);
    expect(ciphertext.length).toBe(file.length + 4 * TAG_BYTES);
    for (const piece of [1000, CHUNK, 3 * CHUNK + 7]) expect(open(ciphertext, piece)).toEqual(file);
  });

  it("is deterministic for a key and file, so a resumed upload re-creates the same chunks", () => {
    expect(seal(file)).toEqual(seal(file));
  });

  it("seals an empty file as one final segment of 16 bytes", () => {
    const ciphertext = seal(new Uint8Array(0));
    expect(ciphertext.length).toBe(TAG_BYTES);
    expect(open(ciphertext, 5)).toEqual(new Uint8Array(0));
  });

  it("detects a flipped byte", () => {
    const ciphertext = seal(file);
    ciphertext[CHUNK + 10]! ^= 1;
    expect(() => open(ciphertext, 4096)).toThrow(/does not decrypt at segment 1/);
  });

  it("detects reordered segments", () => {
    const ciphertext = seal(file);
    const swapped = ciphertext.slice();
    swapped.set(ciphertext.subarray(CHUNK, 2 * CHUNK), 0);
    swapped.set(ciphertext.subarray(0, CHUNK), CHUNK);
    expect(() => open(swapped, 4096)).toThrow(/does not decrypt at segment 0/);
  });

  it("detects truncation at a segment boundary, and bytes after the last segment", () => {
    const ciphertext = seal(file);
    const cut = ciphertext.subarray(0, 3 * CHUNK);
    // The reader told the true size waits for more and is told the stream was cut short.
    expect(() => open(cut, 4096, ciphertext.length)).toThrow(/cut short/);
    // A reader told the shorter size takes segment 2 for the last one, whose final flag is 0.
    expect(() => open(cut, 4096)).toThrow(/does not decrypt at the last segment/);
    const longer = new Uint8Array(ciphertext.length + 1);
    longer.set(ciphertext);
    expect(() => open(longer, 4096, ciphertext.length)).toThrow(/bytes after its last segment/);
  });

  it("refuses a segment opened with the wrong final flag or another key", () => {
    const sealed = sealSegment(key, 0, false, new Uint8Array([1, 2, 3]));
    expect(openSegment(key, 0, false, sealed)).toEqual(new Uint8Array([1, 2, 3]));
    expect(() => openSegment(key, 0, true, sealed)).toThrow(/altered, reordered or cut short/);
    expect(() => openSegment(new Uint8Array(32), 0, false, sealed)).toThrow(/altered/);
  });
});
