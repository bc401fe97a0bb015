import { createHmac } from "node:crypto";

/** HMAC-SHA-256(server secret, fingerprint): the only form in which a device fingerprint is stored. */
export function fingerprintHmac(secret: Buffer, fingerprint: Uint8Array): Buffer {
  return createHmac("sha256", secret).update(fingerprint).digest();
}
