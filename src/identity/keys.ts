import { ed25519 } from "@noble/curves/ed25519.js";
import { InvalidArgumentError } from "../shared/errors.js";

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const ML_KEM_1024_PUBLIC_KEY_BYTES = 1568;
export const DEVICE_FINGERPRINT_BYTES = 32;
export const LOGIN_NONCE_BYTES = 32;

const ML_KEM_Q = 3329;

/**
 * Accepts only a canonical RFC 8032 encoding of a point on the curve that is not of
 * small order (a small-order key would let anyone forge signatures that verify).
 */
export function assertValidIdentityKey(key: Uint8Array): void {
  assertValidEd25519Key("identity_public_key", key);
}

/** The same rule for any Ed25519 public key field (device signing keys), naming the field. */
export function assertValidEd25519Key(field: string, key: Uint8Array): void {
  if (key.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new InvalidArgumentError(`${field} must be ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${key.length}`);
  }
  let point;
  try {
    point = ed25519.Point.fromBytes(key, false);
  } catch {
    throw new InvalidArgumentError(`${field} is not a valid Ed25519 point`);
  }
  if (point.isSmallOrder()) throw new InvalidArgumentError(`${field} is a small-order Ed25519 point`);
}

/**
 * FIPS 203 §7.2 encapsulation key check for ML-KEM-1024: the first 1536 bytes are four
 * polynomials of 256 12-bit coefficients; each must already be reduced mod q = 3329
 * (ByteEncode12(ByteDecode12(ek)) == ek). The last 32 bytes (rho) are free.
 */
export function assertValidMlKemKey(key: Uint8Array): void {
  if (key.length !== ML_KEM_1024_PUBLIC_KEY_BYTES) {
    throw new InvalidArgumentError(`ml_kem_public_key must be ${ML_KEM_1024_PUBLIC_KEY_BYTES} bytes, got ${key.length}`);
  }
  for (let i = 0; i < ML_KEM_1024_PUBLIC_KEY_BYTES - 32; i += 3) {
    const b0 = key[i]!;
    const b1 = key[i + 1]!;
    const b2 = key[i + 2]!;
    const low = b0 | ((b1 & 0x0f) << 8);
    const high = (b1 >> 4) | (b2 << 4);
    if (low >= ML_KEM_Q || high >= ML_KEM_Q) {
      throw new InvalidArgumentError("ml_kem_public_key fails the FIPS 203 encapsulation key check");
    }
  }
}

export function assertLength(field: string, value: Uint8Array, expected: number): void {
  if (value.length !== expected) throw new InvalidArgumentError(`${field} must be ${expected} bytes, got ${value.length}`);
}

/** Strict RFC 8032 verification (no ZIP-215 leniency); false on any malformed input. */
export function verifySignature(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
