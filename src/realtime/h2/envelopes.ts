/** An enveloped message as the gRPC, gRPC-Web and Connect streaming protocols frame it: flags byte, 4-byte big-endian length, data. */
export interface Envelope {
  flags: number;
  data: Uint8Array;
}

/** A request message exceeded the read limit. */
export class EnvelopeTooLargeError extends Error {
  constructor(readonly limit: number, readonly declared: number) {
    super(`request message of ${declared} bytes exceeds the limit of ${limit} bytes`);
  }
}

const HEADER_BYTES = 5;

/**
 * Splits a byte stream into envelopes as chunks arrive. Refuses a message over `maxBytes`
 * from its length prefix, before buffering any of it; keeps at most one partial message.
 */
export class EnvelopeReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes: number) {}

  /** Bytes of an unfinished envelope held. */
  get buffered(): number {
    return this.pending.length;
  }

  /** The envelopes completed by `chunk`, in order. Throws EnvelopeTooLargeError. */
  push(chunk: Buffer): Envelope[] {
    let bytes = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Envelope[] = [];
    for (;;) {
      if (bytes.length < HEADER_BYTES) break;
      const length = bytes.readUInt32BE(1);
      if (length > this.maxBytes) throw new EnvelopeTooLargeError(this.maxBytes, length);
      if (bytes.length < HEADER_BYTES + length) break;
      // A copy: a view would pin the whole chunk for as long as the message lives.
      out.push({ flags: bytes[0]!, data: new Uint8Array(bytes.subarray(HEADER_BYTES, HEADER_BYTES + length)) });
      bytes = bytes.subarray(HEADER_BYTES + length);
    }
    this.pending = bytes.length === 0 ? Buffer.alloc(0) : Buffer.from(bytes);
    return out;
  }
}

/** One envelope: flags, length, data. */
export function envelope(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + data.length);
  out[0] = flags;
  out.writeUInt32BE(data.length, 1);
  out.set(data, HEADER_BYTES);
  return out;
}
