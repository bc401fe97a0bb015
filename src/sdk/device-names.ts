import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, fromUtf8, randomBytes, utf8 } from "./bytes.js";
import { CyphrError } from "./errors.js";
import type { AccountKeys } from "./keys.js";

/**
 * Device names are encrypted for the account's own devices: XChaCha20-Poly1305 under
 * HKDF-SHA256(identity secret key, info "cyphr-device-name-v1"), associated data the device id
 * (u32 BE), stored as nonce ‖ ciphertext. The server's limit is 256 bytes, so a name has at
 * most 216 bytes of UTF-8.
 */
const MAX_NAME_BYTES = 256 - 24 - 16;

export function encryptDeviceName(account: AccountKeys, deviceId: number, name: string): Uint8Array {
  if (name === "") return new Uint8Array(0);
  const plain = utf8(name);
  if (plain.length > MAX_NAME_BYTES) {
    throw new CyphrError("invalid_argument", `The device name is ${plain.length} bytes long: use at most ${MAX_NAME_BYTES} bytes.`);
  }
  const nonce = randomBytes(24);
  return concatBytes(nonce, xchacha20poly1305(nameKey(account), nonce, idBytes(deviceId)).encrypt(plain));
}

/** The name, or undefined when there is none or it cannot be read with this account's key. */
export function decryptDeviceName(account: AccountKeys, deviceId: number, sealed: Uint8Array): string | undefined {
  if (sealed.length < 24 + 16) return undefined;
  try {
    return fromUtf8(xchacha20poly1305(nameKey(account), sealed.subarray(0, 24), idBytes(deviceId)).decrypt(sealed.subarray(24)));
  } catch {
    return undefined;
  }
}

function nameKey(account: AccountKeys): Uint8Array {
  return hkdf(sha256, account.identitySecretKey, undefined, utf8("cyphr-device-name-v1"), 32);
}

function idBytes(deviceId: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, deviceId, false);
  return out;
}
