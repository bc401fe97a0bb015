/** Small byte helpers that run in Node and in browsers alike (no Buffer). */

export function randomBytes(length: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) throw new RangeError("not a hex string");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Comparison of byte strings without an early exit (from @noble/curves). */
export { equalBytes } from "@noble/curves/utils.js";
/** Concatenation of byte strings (from @noble/hashes, which the SDK's crypto already uses). */
export { concatBytes } from "@noble/hashes/utils.js";

/** A JSON record whose byte fields are hex strings: how the SDK encodes its Store values. */
export function encodeJson(value: unknown): Uint8Array {
  return utf8(JSON.stringify(value));
}

export function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(fromUtf8(bytes)) as T;
}
