/** An enveloped message as the gRPC, gRPC-Web and Connect streaming protocols frame it: flags byte, 4-byte big-endian length, data. */
export interface Envelope {
  flags: number;
  data: Uint8Array;
}

/** A request message exceeded the read limit. */
export class EnvelopeTooLargeError extends Error {
  constructor(
    readonly limit: number,
    readonly declared: number,
  ) {
    super(`request message of ${declared} bytes exceeds the limit of ${limit} bytes`);
  }
}

export const HEADER_BYTES = 5;

/**
 * Splits a byte stream into envelopes as chunks arrive. Refuses a message over `maxBytes`
 * from its length prefix, before buffering any of it; keeps at most one partial message.
 * Received chunks are kept as they came and each byte is copied once, into its message: a
 * message sent in many tiny frames costs no more than one sent whole.
 */
export class EnvelopeReader {
  private readonly chunks: Buffer[] = [];
  /** Bytes in `chunks`; the first chunk's first `offset` bytes are already consumed. */
  private total = 0;
  private offset = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes of an unfinished envelope held. */
  get buffered(): number {
    return this.total;
  }

  /** The envelopes completed by `chunk`, in order. Throws EnvelopeTooLargeError. */
  push(chunk: Buffer): Envelope[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.total += chunk.length;
    }
    const out: Envelope[] = [];
    while (this.total >= HEADER_BYTES) {
      const header = this.peek(HEADER_BYTES);
      const length = header.readUInt32BE(1);
      if (length > this.maxBytes) throw new EnvelopeTooLargeError(this.maxBytes, length);
      if (this.total < HEADER_BYTES + length) break;
      this.take(HEADER_BYTES);
      out.push({ flags: header[0]!, data: this.take(length) });
    }
    return out;
  }

  /** The next `n` bytes, not consumed (n is small: a header). */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    const out = Buffer.alloc(n);
    this.copyInto(out, false);
    return out;
  }

  /** Consumes the next `n` bytes into a new array of their own (never a view of a chunk). */
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.copyInto(out, true);
    return out;
  }

  private copyInto(out: Uint8Array, consume: boolean): void {
    let written = 0;
    let index = 0;
    let offset = this.offset;
    while (written < out.length) {
      const chunk = this.chunks[index]!;
      const count = Math.min(chunk.length - offset, out.length - written);
      out.set(chunk.subarray(offset, offset + count), written);
      written += count;
      offset += count;
      if (offset === chunk.length) {
        index++;
        offset = 0;
      }
    }
    if (!consume) return;
    this.chunks.splice(0, index);
    this.offset = offset;
    this.total -= out.length;
  }
}

/** One envelope: flags, length, data. */
export function envelope(flags: number, data: Uint8Array): Buffer {
  const out = envelopeOf(flags, data.length);
  out.set(data, HEADER_BYTES);
  return out;
}

/** An envelope's buffer for `size` bytes of data, its header written; the data goes at HEADER_BYTES. */
export function envelopeOf(flags: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + size);
  out[0] = flags;
  out.writeUInt32BE(size, 1);
  return out;
}
