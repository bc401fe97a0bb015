import type { Timestamp } from "@bufbuild/protobuf/wkt";

/**
 * The few protobuf wire primitives the hot frames need (src/realtime/h2/frame-encoding.ts),
 * written straight into one buffer whose size was computed first: protobuf-es's
 * BinaryWriter copies every nested message once more per level. Numbers are JavaScript
 * numbers up to 2^53; callers fall back to toBinary for anything larger or negative.
 */

/** Wire types. */
const VARINT = 0;
const LEN = 2;

export const tagOf = (field: number, wireType: number) => (field << 3) | wireType;
export const lenTag = (field: number) => tagOf(field, LEN);
export const varintTag = (field: number) => tagOf(field, VARINT);

/** Bytes of `n` (0 ≤ n < 2^53) as a varint. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes `n` (0 ≤ n < 2^53) as a varint at `pos`; the position after it. */
export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

/** A field's bytes: its tag (one byte: field numbers below 16) and a length-delimited body of `bodySize`. */
export const lenFieldSize = (bodySize: number) => 1 + varintSize(bodySize) + bodySize;

/** A varint field's bytes, or 0 when `n` is 0 (proto3 leaves zero values out). */
export const varintFieldSize = (n: number) => (n === 0 ? 0 : 1 + varintSize(n));

/** A string field's bytes, given its UTF-8 length; 0 when empty. */
export const stringFieldSize = (utf8Length: number) => (utf8Length === 0 ? 0 : lenFieldSize(utf8Length));

export function writeVarintField(out: Buffer, pos: number, field: number, n: number): number {
  if (n === 0) return pos;
  out[pos++] = varintTag(field);
  return writeVarint(out, pos, n);
}

export function writeStringField(out: Buffer, pos: number, field: number, text: string, utf8Length: number): number {
  if (utf8Length === 0) return pos;
  out[pos++] = lenTag(field);
  pos = writeVarint(out, pos, utf8Length);
  return pos + out.write(text, pos, utf8Length, "utf8");
}

export function writeBytesField(out: Buffer, pos: number, field: number, bytes: Uint8Array): number {
  out[pos++] = lenTag(field);
  pos = writeVarint(out, pos, bytes.length);
  out.set(bytes, pos);
  return pos + bytes.length;
}

/** A Timestamp's seconds as a number, or undefined when it is not a plain time after 1970 (the caller falls back). */
export function plainSeconds(ts: Timestamp): number | undefined {
  const seconds = ts.seconds;
  return seconds >= 0n && seconds <= BigInt(Number.MAX_SAFE_INTEGER) && ts.nanos >= 0 ? Number(seconds) : undefined;
}

/** A Timestamp's body size (seconds from plainSeconds). */
export const timestampBodySize = (seconds: number, nanos: number) => varintFieldSize(seconds) + varintFieldSize(nanos);

/** Writes a Timestamp field (present: written even when both parts are 0). */
export function writeTimestampField(out: Buffer, pos: number, field: number, seconds: number, nanos: number): number {
  out[pos++] = lenTag(field);
  pos = writeVarint(out, pos, timestampBodySize(seconds, nanos));
  pos = writeVarintField(out, pos, 1, seconds);
  return writeVarintField(out, pos, 2, nanos);
}
