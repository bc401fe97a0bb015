/**
 * The byte strings the account lifecycle's Ed25519 signatures cover, as
 * cyphr.account.v1 documents them: one definition for the server, the tests and the SDK.
 * `‖` is concatenation, 0x00 one zero byte, cyphr_id its ASCII bytes, device_id a u32 in
 * big-endian order.
 */

import { concatBytes } from "@noble/hashes/utils.js";

const RECOVERY_KEY_DOMAIN = ascii("cyphr-recovery-key-v1");
const RECOVER_DOMAIN = ascii("cyphr-recover-v1");
const DELETE_DOMAIN = ascii("cyphr-delete-account-v1");
const ZERO = new Uint8Array([0]);

/** SetRecoveryKey, by the identity key: "cyphr-recovery-key-v1" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ recovery_public_key */
export function recoveryKeySignedBytes(cyphrId: string, recoveryPublicKey: Uint8Array): Uint8Array {
  return concatBytes(RECOVERY_KEY_DOMAIN, ZERO, ascii(cyphrId), ZERO, recoveryPublicKey);
}

export interface RecoveryClaim {
  cyphrId: string;
  nonce: Uint8Array;
  identityPublicKey: Uint8Array;
  mlKemPublicKey: Uint8Array;
  deviceFingerprint: Uint8Array;
  deviceId: number;
  deviceSigningKey: Uint8Array;
  deviceCertificate: Uint8Array;
}

/**
 * RecoverAccount, by the recovery key: "cyphr-recover-v1" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ nonce ‖
 * identity_public_key ‖ ml_kem_public_key ‖ device_fingerprint ‖ device_id ‖
 * device_signing_key ‖ device_certificate. Every field has a fixed length, so the
 * concatenation is unambiguous.
 */
export function recoverSignedBytes(claim: RecoveryClaim): Uint8Array {
  return concatBytes(
    RECOVER_DOMAIN,
    ZERO,
    ascii(claim.cyphrId),
    ZERO,
    claim.nonce,
    claim.identityPublicKey,
    claim.mlKemPublicKey,
    claim.deviceFingerprint,
    u32(claim.deviceId),
    claim.deviceSigningKey,
    claim.deviceCertificate,
  );
}

/** DeleteAccount, by the identity key: "cyphr-delete-account-v1" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ nonce */
export function deleteAccountSignedBytes(cyphrId: string, nonce: Uint8Array): Uint8Array {
  return concatBytes(DELETE_DOMAIN, ZERO, ascii(cyphrId), ZERO, nonce);
}

function u32(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RangeError(`device_id ${value} is not a u32`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
