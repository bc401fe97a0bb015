import { InvalidArgumentError, ResourceExhaustedError } from "../shared/errors.js";

/** Opaque end-to-end-encrypted content; the server checks sizes only. */
export interface EncryptedPayload {
  kemCiphertext: Uint8Array;
  ciphertext: Uint8Array;
  nonce: Uint8Array;
  tag: Uint8Array;
  header: Uint8Array;
}

export const ML_KEM_1024_CIPHERTEXT_BYTES = 1568;
const MAX_NONCE_BYTES = 64;
const MAX_TAG_BYTES = 64;
const MAX_HEADER_BYTES = 4096;

export function requirePayload(payload: EncryptedPayload | undefined, maxBytes: number): EncryptedPayload {
  if (!payload) throw new InvalidArgumentError("payload is required");
  const { kemCiphertext, ciphertext, nonce, tag, header } = payload;
  if (kemCiphertext.length !== 0 && kemCiphertext.length !== ML_KEM_1024_CIPHERTEXT_BYTES) {
    throw new InvalidArgumentError(`payload.kem_ciphertext must be empty or ${ML_KEM_1024_CIPHERTEXT_BYTES} bytes (ML-KEM-1024), got ${kemCiphertext.length}`);
  }
  if (ciphertext.length === 0) throw new InvalidArgumentError("payload.ciphertext must not be empty");
  if (nonce.length > MAX_NONCE_BYTES) throw new InvalidArgumentError(`payload.nonce must be at most ${MAX_NONCE_BYTES} bytes, got ${nonce.length}`);
  if (tag.length > MAX_TAG_BYTES) throw new InvalidArgumentError(`payload.tag must be at most ${MAX_TAG_BYTES} bytes, got ${tag.length}`);
  if (header.length > MAX_HEADER_BYTES) {
    throw new InvalidArgumentError(`payload.header must be at most ${MAX_HEADER_BYTES} bytes, got ${header.length}`);
  }
  const total = kemCiphertext.length + ciphertext.length + nonce.length + tag.length + header.length;
  if (total > maxBytes) {
    throw new ResourceExhaustedError(`payload is ${total} bytes; the limit is ${maxBytes} bytes`);
  }
  return payload;
}
