import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, decodeJson, encodeJson, fromHex, randomBytes, toHex, utf8 } from "./bytes.js";
import { CyphrError } from "./errors.js";
import { type AccountKeys, accountKeysFromJson, accountKeysToJson } from "./keys.js";

/**
 * What the new device shows (as text or a QR code) and the approving device reads:
 * "cyphr-link-v1" . link_id . hex(link_secret) . hex(device_signing_key) . hex(provisioning_secret).
 * link_id and link_secret come from BeginDeviceLink; the server sees them. The provisioning
 * secret is 32 random bytes the new device made itself and never sends to the server: the
 * provisioning blob is sealed with a key derived from it, so only a reader of the code can open it.
 */
export interface LinkPayload {
  linkId: string;
  linkSecret: Uint8Array;
  deviceSigningKey: Uint8Array;
  provisioningSecret: Uint8Array;
}

const PREFIX = "cyphr-link-v1";
const BLOB_DOMAIN = utf8("cyphr-provisioning-v1");
const NONCE = 24;

export function encodeLinkPayload(payload: LinkPayload): string {
  return [PREFIX, payload.linkId, toHex(payload.linkSecret), toHex(payload.deviceSigningKey), toHex(payload.provisioningSecret)].join(".");
}

export function decodeLinkPayload(text: string): LinkPayload {
  const parts = text.trim().split(".");
  const invalid = new CyphrError("invalid_argument", "This is not a Cyphr device-link code: copy the whole code the new device shows.");
  if (parts.length !== 5 || parts[0] !== PREFIX || !/^[0-9a-f-]{1,64}$/.test(parts[1]!)) throw invalid;
  try {
    const payload = { linkId: parts[1]!, linkSecret: fromHex(parts[2]!), deviceSigningKey: fromHex(parts[3]!), provisioningSecret: fromHex(parts[4]!) };
    if (payload.linkSecret.length !== 32 || payload.deviceSigningKey.length !== 32 || payload.provisioningSecret.length !== 32) throw invalid;
    return payload;
  } catch {
    throw invalid;
  }
}

export function newProvisioningSecret(): Uint8Array {
  return randomBytes(32);
}

/** The account keys for the new device, sealed with XChaCha20-Poly1305 under HKDF(provisioning secret). */
export function sealProvisioning(payload: LinkPayload, account: AccountKeys): Uint8Array {
  const nonce = randomBytes(NONCE);
  const sealed = xchacha20poly1305(blobKey(payload), nonce, associatedData(payload)).encrypt(encodeJson(accountKeysToJson(account)));
  return concatBytes(nonce, sealed);
}

export function openProvisioning(payload: LinkPayload, blob: Uint8Array): AccountKeys {
  try {
    const plain = xchacha20poly1305(blobKey(payload), blob.subarray(0, NONCE), associatedData(payload)).decrypt(blob.subarray(NONCE));
    return accountKeysFromJson(decodeJson(plain));
  } catch (error) {
    throw new CyphrError("data_loss", "The approving device sent account keys this device cannot open: begin the link again.", undefined, { cause: error });
  }
}

function blobKey(payload: LinkPayload): Uint8Array {
  return hkdf(sha256, payload.provisioningSecret, utf8(payload.linkId), concatBytes(BLOB_DOMAIN, payload.deviceSigningKey), 32);
}

function associatedData(payload: LinkPayload): Uint8Array {
  return concatBytes(BLOB_DOMAIN, utf8(payload.linkId), payload.deviceSigningKey);
}
