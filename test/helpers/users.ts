import { randomBytes } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import { deviceCertificateBytes, loginSignedBytes, registerSignedBytes } from "../../src/devices/signed-bytes.js";
import type { IdentityService, RegisterResponse } from "../../src/gen/cyphr/identity/v1/identity_pb.js";

/**
 * A client device of an account: its keys live here only, as on a real phone. The
 * account's identity key travels with device 1 (it certifies further devices); each
 * device has its own signing key, which signs its logins.
 */
export interface Device {
  identitySecretKey: Uint8Array;
  identityPublicKey: Uint8Array;
  mlKemPublicKey: Uint8Array;
  mlKemSecretKey: Uint8Array;
  fingerprint: Uint8Array;
  /** This device's Ed25519 signing key pair. */
  deviceSecretKey: Uint8Array;
  deviceSigningKey: Uint8Array;
  /** The server-assigned device id: 1 for the registering device. */
  deviceId: number;
}

export function newDevice(): Device {
  const identitySecretKey = ed25519.utils.randomSecretKey();
  const deviceSecretKey = ed25519.utils.randomSecretKey();
  const kem = ml_kem1024.keygen();
  return {
    identitySecretKey,
    identityPublicKey: ed25519.getPublicKey(identitySecretKey),
    mlKemPublicKey: kem.publicKey,
    mlKemSecretKey: kem.secretKey,
    fingerprint: new Uint8Array(randomBytes(32)),
    deviceSecretKey,
    deviceSigningKey: ed25519.getPublicKey(deviceSecretKey),
    deviceId: 1,
  };
}

/** The identity key's certificate for a device key, as the devices proto documents. */
export function deviceCertificate(account: Pick<Device, "identitySecretKey">, cyphrId: string, deviceId: number, deviceSigningKey: Uint8Array): Uint8Array {
  return ed25519.sign(deviceCertificateBytes(cyphrId, deviceId, deviceSigningKey), account.identitySecretKey);
}

/** A fresh, valid Cyphr ID with the given prefix (≤ 30 characters in all). */
export function uniqueCyphrId(prefix = "user"): string {
  return `${prefix.slice(0, 17)}_${randomBytes(6).toString("hex")}`;
}

/** A Register request signed exactly as the proto documents. */
export function registerRequest(device: Device, cyphrId: string, displayName = "") {
  const signature = ed25519.sign(registerSignedBytes(cyphrId, device.identityPublicKey, device.mlKemPublicKey, device.fingerprint), device.identitySecretKey);
  return {
    cyphrId,
    identityPublicKey: device.identityPublicKey,
    mlKemPublicKey: device.mlKemPublicKey,
    deviceFingerprint: device.fingerprint,
    displayName,
    signature,
    deviceSigningKey: device.deviceSigningKey,
    deviceCertificate: deviceCertificate(device, cyphrId, 1, device.deviceSigningKey),
    deviceEncryptedName: new Uint8Array(0),
  };
}

/** A Login request for `deviceId` (the device's own by default), signed by the device key. */
export function loginRequest(device: Device, cyphrId: string, nonce: Uint8Array, deviceId = device.deviceId) {
  return {
    cyphrId,
    deviceId,
    nonce,
    signature: ed25519.sign(loginSignedBytes(cyphrId, deviceId, nonce), device.deviceSecretKey),
  };
}

export interface RegisteredUser {
  cyphrId: string;
  device: Device;
  userId: string;
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

export async function registerUser(client: Client<typeof IdentityService>, cyphrId = uniqueCyphrId(), displayName = ""): Promise<RegisteredUser> {
  const device = newDevice();
  const res: RegisterResponse = await client.register(registerRequest(device, cyphrId, displayName));
  return {
    cyphrId,
    device,
    userId: res.userId,
    accessToken: res.session!.accessToken,
    refreshToken: res.session!.refreshToken,
    sessionId: res.session!.sessionId,
  };
}

/** Signs in an already registered device with a fresh challenge: a new session. */
export async function loginUser(client: Client<typeof IdentityService>, user: Pick<RegisteredUser, "cyphrId" | "device">): Promise<RegisteredUser> {
  const { nonce } = await client.createChallenge({ cyphrId: user.cyphrId });
  const res = await client.login(loginRequest(user.device, user.cyphrId, nonce));
  return {
    cyphrId: user.cyphrId,
    device: user.device,
    userId: res.userId,
    accessToken: res.session!.accessToken,
    refreshToken: res.session!.refreshToken,
    sessionId: res.session!.sessionId,
  };
}
