import { createHmac, randomBytes } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { deleteAccountSignedBytes, recoverSignedBytes, recoveryKeySignedBytes } from "../../src/account/signed-bytes.js";
import { AccountService } from "../../src/gen/cyphr/account/v1/account_pb.js";
import { clientFor, type Protocol } from "./clients.js";
import { type Device, deviceCertificate, newDevice, type RegisteredUser } from "./users.js";

/** AccountService with the user's token (or none). */
export function accountClient(baseUrl: string, user?: Pick<RegisteredUser, "accessToken">, protocol: Protocol = "connect"): Client<typeof AccountService> {
  return clientFor(AccountService, protocol, baseUrl, user ? { token: user.accessToken } : {});
}

/** A recovery key pair, as the client derives it from its recovery phrase. */
export function newRecoveryKey(): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** SetRecoveryKey signed by the account's identity key. */
export function setRecoveryKeyRequest(user: RegisteredUser, recoveryPublicKey: Uint8Array) {
  return {
    recoveryPublicKey,
    signature: ed25519.sign(recoveryKeySignedBytes(user.cyphrId, recoveryPublicKey), user.device.identitySecretKey),
  };
}

/** A RecoverAccount request for a brand-new device with new keys, signed by the recovery key. */
export function recoverRequest(
  cyphrId: string,
  recoverySecretKey: Uint8Array,
  challenge: { nonce: Uint8Array; deviceId: number },
  pin = "",
): { request: ReturnType<typeof build>; device: Device } {
  const device = { ...newDevice(), deviceId: challenge.deviceId };
  return { request: build(cyphrId, recoverySecretKey, challenge, device, pin), device };
}

function build(cyphrId: string, recoverySecretKey: Uint8Array, challenge: { nonce: Uint8Array; deviceId: number }, device: Device, pin: string) {
  const deviceCertificateBytes = deviceCertificate(device, cyphrId, challenge.deviceId, device.deviceSigningKey);
  const claim = {
    cyphrId,
    nonce: challenge.nonce,
    identityPublicKey: device.identityPublicKey,
    mlKemPublicKey: device.mlKemPublicKey,
    deviceFingerprint: device.fingerprint,
    deviceId: challenge.deviceId,
    deviceSigningKey: device.deviceSigningKey,
    deviceCertificate: deviceCertificateBytes,
  };
  return {
    cyphrId,
    nonce: challenge.nonce,
    identityPublicKey: device.identityPublicKey,
    mlKemPublicKey: device.mlKemPublicKey,
    deviceFingerprint: device.fingerprint,
    deviceSigningKey: device.deviceSigningKey,
    deviceCertificate: deviceCertificateBytes,
    deviceEncryptedName: new Uint8Array(0),
    signature: ed25519.sign(recoverSignedBytes(claim), recoverySecretKey),
    pin,
  };
}

/** DeleteAccount signed by the identity key over a fresh nonce. */
export function deleteAccountRequest(user: RegisteredUser, nonce: Uint8Array) {
  return { nonce, signature: ed25519.sign(deleteAccountSignedBytes(user.cyphrId, nonce), user.device.identitySecretKey) };
}

/**
 * RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s), written here from the RFC rather than with
 * the server's library, so the tests check the server against an independent computation.
 */
export function totpCode(base32Secret: string, atMs: number): string {
  const key = base32Decode(base32Secret);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return binary.toString().padStart(6, "0");
}

function base32Decode(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text.replace(/=+$/, "").toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A code that is certainly not the current one (for refusals). */
export function wrongCode(right: string): string {
  return ((Number(right) + 1) % 1_000_000).toString().padStart(6, "0");
}

export const randomNonce = () => new Uint8Array(randomBytes(32));
