/**
 * The byte strings Cyphr's Ed25519 signatures cover: the one definition that the server,
 * the tests and the SDK sign and verify against. `‖` is concatenation, 0x00 one zero
 * byte, cyphr_id its ASCII bytes, device_id a u32 in big-endian order.
 */

const REGISTER_DOMAIN = ascii("cyphr-register-v1");
const LOGIN_DOMAIN = ascii("cyphr-login-v2");
const DEVICE_DOMAIN = ascii("cyphr-device-v1");

/** Register, by the identity key: "cyphr-register-v1" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ identity_public_key ‖ ml_kem_public_key ‖ device_fingerprint */
export function registerSignedBytes(
  cyphrId: string,
  identityKey: Uint8Array,
  mlKemKey: Uint8Array,
  fingerprint: Uint8Array,
): Uint8Array {
  return concat(REGISTER_DOMAIN, [0], ascii(cyphrId), [0], identityKey, mlKemKey, fingerprint);
}

/** Login, by the device key: "cyphr-login-v2" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ device_id (u32 BE) ‖ nonce */
export function loginSignedBytes(cyphrId: string, deviceId: number, nonce: Uint8Array): Uint8Array {
  return concat(LOGIN_DOMAIN, [0], ascii(cyphrId), [0], u32(deviceId), nonce);
}

/** Device certificate, by the identity key: "cyphr-device-v1" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ device_id (u32 BE) ‖ device_signing_key */
export function deviceCertificateBytes(cyphrId: string, deviceId: number, deviceSigningKey: Uint8Array): Uint8Array {
  return concat(DEVICE_DOMAIN, [0], ascii(cyphrId), [0], u32(deviceId), deviceSigningKey);
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

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
