/**
 * The byte strings Cyphr's Ed25519 signatures cover: the one definition that the server,
 * the tests and the SDK sign and verify against. `‖` is concatenation, 0x00 one zero
 * byte, cyphr_id its ASCII bytes, device_id a u32 in big-endian order.
 */

import { concatBytes } from "@noble/hashes/utils.js";

const REGISTER_DOMAIN = ascii("cyphr-register-v1");
const LOGIN_DOMAIN = ascii("cyphr-login-v2");
const DEVICE_DOMAIN = ascii("cyphr-device-v1");
const ZERO = new Uint8Array([0]);

/** Register, by the identity key: "cyphr-register-v1" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ identity_public_key ‖ ml_kem_public_key ‖ device_fingerprint */
export function registerSignedBytes(cyphrId: string, identityKey: Uint8Array, mlKemKey: Uint8Array, fingerprint: Uint8Array): Uint8Array {
  return concatBytes(REGISTER_DOMAIN, ZERO, ascii(cyphrId), ZERO, identityKey, mlKemKey, fingerprint);
}

/** Login, by the device key: "cyphr-login-v2" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ device_id (u32 BE) ‖ nonce */
export function loginSignedBytes(cyphrId: string, deviceId: number, nonce: Uint8Array): Uint8Array {
  return concatBytes(LOGIN_DOMAIN, ZERO, ascii(cyphrId), ZERO, u32(deviceId), nonce);
}

/** Device certificate, by the identity key: "cyphr-device-v1" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ device_id (u32 BE) ‖ device_signing_key */
export function deviceCertificateBytes(cyphrId: string, deviceId: number, deviceSigningKey: Uint8Array): Uint8Array {
  return concatBytes(DEVICE_DOMAIN, ZERO, ascii(cyphrId), ZERO, u32(deviceId), deviceSigningKey);
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
