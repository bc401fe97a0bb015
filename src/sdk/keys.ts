import { ed25519 } from "@noble/curves/ed25519.js";
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { deviceCertificateBytes } from "../devices/signed-bytes.js";
import { decodeJson, encodeJson, fromHex, randomBytes, toHex } from "./bytes.js";
import { CyphrError } from "./errors.js";
import type { Store } from "./store.js";

/** The account's keys, shared by all its devices (device 1 creates them; linking carries them over). */
export interface AccountKeys {
  cyphrId: string;
  userId: string;
  /** Ed25519: certifies the account's devices. */
  identitySecretKey: Uint8Array;
  identityPublicKey: Uint8Array;
  /** ML-KEM-1024, the account's static key that Register requires. */
  mlKemSecretKey: Uint8Array;
  mlKemPublicKey: Uint8Array;
}

/** This device's own keys: its Ed25519 signing key signs its logins and its MLS leaves. */
export interface DeviceKeys {
  deviceId: number;
  signingSecretKey: Uint8Array;
  signingPublicKey: Uint8Array;
  fingerprint: Uint8Array;
}

const ACCOUNT_KEY = "account/keys";
const DEVICE_KEY = "device/keys";

export function newIdentityKeys(): Omit<AccountKeys, "cyphrId" | "userId"> {
  const identitySecretKey = ed25519.utils.randomSecretKey();
  const kem = ml_kem1024.keygen();
  return {
    identitySecretKey,
    identityPublicKey: ed25519.getPublicKey(identitySecretKey),
    mlKemSecretKey: kem.secretKey,
    mlKemPublicKey: kem.publicKey,
  };
}

export function newDeviceKeys(deviceId = 0): DeviceKeys {
  const signingSecretKey = ed25519.utils.randomSecretKey();
  return { deviceId, signingSecretKey, signingPublicKey: ed25519.getPublicKey(signingSecretKey), fingerprint: randomBytes(32) };
}

/** The identity key's certificate for a device key (the devices proto's byte format). */
export function certifyDevice(account: AccountKeys, deviceId: number, signingKey: Uint8Array): Uint8Array {
  return ed25519.sign(deviceCertificateBytes(account.cyphrId, deviceId, signingKey), account.identitySecretKey);
}

/** Whether `certificate` is the identity key's signature over this device (a legacy device 1 signs with the identity key itself). */
export function verifyDeviceCertificate(
  cyphrId: string,
  identityPublicKey: Uint8Array,
  device: { deviceId: number; signingKey: Uint8Array; certificate: Uint8Array },
): boolean {
  if (device.certificate.length === 0) {
    return device.deviceId === 1 && toHex(device.signingKey) === toHex(identityPublicKey);
  }
  try {
    return ed25519.verify(device.certificate, deviceCertificateBytes(cyphrId, device.deviceId, device.signingKey), identityPublicKey);
  } catch {
    return false;
  }
}

export async function saveAccountKeys(store: Store, keys: AccountKeys): Promise<void> {
  await store.set(ACCOUNT_KEY, encodeJson(accountKeysToJson(keys)));
}

export async function loadAccountKeys(store: Store): Promise<AccountKeys> {
  const bytes = await store.get(ACCOUNT_KEY);
  if (bytes === undefined) throw new CyphrError("failed_precondition", "This profile has no account yet: register or link this device first.");
  return accountKeysFromJson(decodeJson(bytes));
}

export function accountKeysToJson(keys: AccountKeys): Record<string, string> {
  return {
    cyphrId: keys.cyphrId,
    userId: keys.userId,
    identitySecretKey: toHex(keys.identitySecretKey),
    mlKemSecretKey: toHex(keys.mlKemSecretKey),
    mlKemPublicKey: toHex(keys.mlKemPublicKey),
  };
}

export function accountKeysFromJson(json: Record<string, string>): AccountKeys {
  const identitySecretKey = fromHex(json.identitySecretKey ?? "");
  return {
    cyphrId: json.cyphrId ?? "",
    userId: json.userId ?? "",
    identitySecretKey,
    identityPublicKey: ed25519.getPublicKey(identitySecretKey),
    mlKemSecretKey: fromHex(json.mlKemSecretKey ?? ""),
    mlKemPublicKey: fromHex(json.mlKemPublicKey ?? ""),
  };
}

export async function saveDeviceKeys(store: Store, keys: DeviceKeys): Promise<void> {
  await store.set(DEVICE_KEY, encodeJson({ deviceId: keys.deviceId, signingSecretKey: toHex(keys.signingSecretKey), fingerprint: toHex(keys.fingerprint) }));
}

export async function loadDeviceKeys(store: Store): Promise<DeviceKeys> {
  const bytes = await store.get(DEVICE_KEY);
  if (bytes === undefined) throw new CyphrError("failed_precondition", "This profile has no device keys yet: register or link this device first.");
  const json = decodeJson<{ deviceId: number; signingSecretKey: string; fingerprint: string }>(bytes);
  const signingSecretKey = fromHex(json.signingSecretKey);
  return { deviceId: json.deviceId, signingSecretKey, signingPublicKey: ed25519.getPublicKey(signingSecretKey), fingerprint: fromHex(json.fingerprint) };
}
