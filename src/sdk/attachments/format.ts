/**
 * The ciphertext format "cyphr-attachment-v1" (docs/attachments.md): a file cut into segments
 * of `chunkSize - 16` bytes (the last one shorter, possibly empty), segment i sealed with
 * XChaCha20-Poly1305 under the file key, nonce = 16 zero bytes ‖ i (u64 big-endian), associated
 * data = "cyphr-attachment-v1" ‖ 0x00 ‖ final (0x01 for the last segment, else 0x00). Each
 * sealed segment is chunkSize bytes (the last one shorter), so segment i is upload chunk i.
 *
 * The key is fresh for every file, so nonces never repeat under one key; encryption is
 * deterministic for a (key, file), so a resumed upload re-creates the very same chunks.
 * Tampering fails a tag; reordering fails the nonce; truncation at a segment boundary
 * leaves a last segment whose final flag is 0; bytes after the final segment are refused.
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { CyphrError } from "../errors.js";

export const FORMAT = "cyphr-attachment-v1";
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;
/** Sealed segment size the SDK uses unless told otherwise: the server's largest chunk. */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** The server's smallest chunk_size. */
export const MIN_CHUNK_SIZE = 64 * 1024;

const LABEL = new TextEncoder().encode(FORMAT);

function nonce(index: number): Uint8Array {
  const n = new Uint8Array(24);
  new DataView(n.buffer).setBigUint64(16, BigInt(index));
  return n;
}

function aad(final: boolean): Uint8Array {
  const a = new Uint8Array(LABEL.length + 2);
  a.set(LABEL);
  a[LABEL.length + 1] = final ? 1 : 0;
  return a;
}

/** Segments a file of `plaintextSize` bytes makes (an empty file makes one, empty). */
export function segmentCount(plaintextSize: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(plaintextSize / (chunkSize - TAG_BYTES)));
}

/** Ciphertext bytes of a file of `plaintextSize` bytes. */
export function ciphertextSize(plaintextSize: number, chunkSize: number): number {
  return plaintextSize + segmentCount(plaintextSize, chunkSize) * TAG_BYTES;
}

/** Plaintext bytes [start, end) of segment `index`. */
export function segmentRange(index: number, plaintextSize: number, chunkSize: number): { start: number; end: number } {
  const start = index * (chunkSize - TAG_BYTES);
  return { start, end: Math.min(plaintextSize, start + chunkSize - TAG_BYTES) };
}

export function sealSegment(key: Uint8Array, index: number, final: boolean, plaintext: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce(index), aad(final)).encrypt(plaintext);
}

/** Opens segment `index`; a sealed segment that fails (tampered, moved, or final flag not as expected) is data_loss. */
export function openSegment(key: Uint8Array, index: number, final: boolean, sealed: Uint8Array): Uint8Array {
  try {
    return xchacha20poly1305(key, nonce(index), aad(final)).decrypt(sealed);
  } catch {
    const what = final ? "the last segment" : `segment ${index}`;
    throw new CyphrError("data_loss", `The attachment does not decrypt at ${what}: it was altered, reordered or cut short.`);
  }
}

/**
 * Decrypts a ciphertext stream as its bytes arrive, in pieces of any size, holding at most
 * one segment: `push` returns the plaintext of every segment completed, `end` checks that
 * the stream ended exactly after the final segment.
 */
export class SegmentOpener {
  private buffer: Uint8Array;
  private filled = 0;
  private index = 0;
  private done = false;

  constructor(
    private readonly key: Uint8Array,
    private readonly chunkSize: number,
    /** Ciphertext bytes in all: tells which segment is the last. */
    private readonly size: number,
    /** Sees each sealed segment once, in order, before it is opened (to hash the ciphertext). */
    private readonly onSealed: (sealed: Uint8Array) => void = () => undefined,
  ) {
    this.buffer = new Uint8Array(chunkSize);
  }

  /** Ciphertext bytes taken so far that belong to completed segments (where a resumed read starts). */
  get consumed(): number {
    return this.index * this.chunkSize;
  }

  /** Forgets a partly received segment (a resumed read starts again at `consumed`). */
  dropPartial(): void {
    this.filled = 0;
  }

  push(piece: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let at = 0;
    while (at < piece.length) {
      if (this.done) throw new CyphrError("data_loss", "The attachment has bytes after its last segment.");
      const segment = Math.min(this.chunkSize, this.size - this.consumed);
      const take = Math.min(segment - this.filled, piece.length - at);
      this.buffer.set(piece.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === segment) {
        const final = this.consumed + segment === this.size;
        this.onSealed(this.buffer.subarray(0, segment));
        out.push(openSegment(this.key, this.index, final, this.buffer.subarray(0, segment)));
        this.index++;
        this.filled = 0;
        this.done = final;
      }
    }
    return out;
  }

  end(): void {
    if (!this.done) throw new CyphrError("data_loss", "The attachment ended before its last segment: it was cut short.");
  }
}
