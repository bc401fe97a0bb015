import { randomUUID } from "node:crypto";
import { assertDeviceName, requireDeviceCertificate } from "../devices/certificates.js";
import { insertDevice } from "../devices/repo.js";
import { registerSignedBytes } from "../devices/signed-bytes.js";
import { AlreadyExistsError, InvalidArgumentError, UnauthenticatedError } from "../shared/errors.js";
import { quote } from "../shared/quote.js";
import type { IdentityContext, SessionTokens } from "./context.js";
import { classifyCyphrId } from "./cyphr-id.js";
import { fingerprintHmac } from "./fingerprint.js";
import {
  assertLength,
  assertValidEd25519Key,
  assertValidIdentityKey,
  assertValidMlKemKey,
  DEVICE_FINGERPRINT_BYTES,
  ED25519_SIGNATURE_BYTES,
  verifySignature,
} from "./keys.js";
import { normalizeDisplayName } from "./profile-fields.js";
import { quarantinedUntil } from "./quarantine.js";
import { cyphrIdTaken, insertIdentity } from "./repo.js";
import { startSession } from "./sessions.js";

export interface RegisterInput {
  cyphrId: string;
  identityPublicKey: Uint8Array;
  mlKemPublicKey: Uint8Array;
  deviceFingerprint: Uint8Array;
  displayName: string;
  signature: Uint8Array;
  deviceSigningKey: Uint8Array;
  deviceCertificate: Uint8Array;
  deviceEncryptedName: Uint8Array;
}

/** Register always creates this device. */
const FIRST_DEVICE_ID = 1;

export type Availability = "available" | "invalid_format" | "reserved" | "taken" | "quarantined";

export async function checkAvailability(ctx: IdentityContext, cyphrId: string): Promise<Availability> {
  const status = classifyCyphrId(cyphrId);
  if (status !== "valid") return status;
  if (await cyphrIdTaken(ctx.pool, cyphrId)) return "taken";
  return (await quarantinedUntil(ctx.pool, ctx.keys.fingerprintSecret, cyphrId)) ? "quarantined" : "available";
}

/**
 * Validates every field, checks the proof of possession of the identity key and device
 * 1's certificate, then creates the identity, device 1 and its first session in one
 * transaction. The unique constraint
 * decides races: of two concurrent registrations of one id, the second gets ALREADY_EXISTS.
 */
export async function register(ctx: IdentityContext, input: RegisterInput): Promise<{ userId: string; deviceId: number; session: SessionTokens }> {
  const status = classifyCyphrId(input.cyphrId);
  if (status === "invalid_format") {
    throw new InvalidArgumentError("cyphr_id must match ^[a-z0-9_]{3,30}$ (lower-case letters, digits, underscore)");
  }
  if (status === "reserved") throw new InvalidArgumentError(`cyphr_id ${quote(input.cyphrId)} is reserved`);
  assertValidIdentityKey(input.identityPublicKey);
  assertValidMlKemKey(input.mlKemPublicKey);
  assertLength("device_fingerprint", input.deviceFingerprint, DEVICE_FINGERPRINT_BYTES);
  assertLength("signature", input.signature, ED25519_SIGNATURE_BYTES);
  assertValidEd25519Key("device_signing_key", input.deviceSigningKey);
  assertLength("device_certificate", input.deviceCertificate, ED25519_SIGNATURE_BYTES);
  assertDeviceName("device_encrypted_name", input.deviceEncryptedName);
  const displayName = normalizeDisplayName(input.displayName);

  const signed = registerSignedBytes(input.cyphrId, input.identityPublicKey, input.mlKemPublicKey, input.deviceFingerprint);
  if (!verifySignature(input.signature, signed, input.identityPublicKey)) {
    throw new UnauthenticatedError("signature does not verify with identity_public_key");
  }
  requireDeviceCertificate("device_certificate", input.deviceCertificate, {
    cyphrId: input.cyphrId,
    deviceId: FIRST_DEVICE_ID,
    deviceSigningKey: input.deviceSigningKey,
    identityPublicKey: input.identityPublicKey,
  });

  const userId = randomUUID();
  const quarantined = await quarantinedUntil(ctx.pool, ctx.keys.fingerprintSecret, input.cyphrId);
  if (quarantined) {
    throw new AlreadyExistsError(`cyphr_id ${quote(input.cyphrId)} belonged to a deleted account; it can be registered from ${quarantined.toISOString()}`);
  }
  const session = await ctx.pool.transaction(async (tx) => {
    await insertIdentity(tx, {
      id: userId,
      cyphrId: input.cyphrId,
      identityPublicKey: input.identityPublicKey,
      mlKemPublicKey: input.mlKemPublicKey,
      displayName,
    });
    await insertDevice(tx, {
      userId,
      deviceId: FIRST_DEVICE_ID,
      signingKey: input.deviceSigningKey,
      certificate: input.deviceCertificate,
      fingerprintHmac: fingerprintHmac(ctx.keys.fingerprintSecret, input.deviceFingerprint),
      encryptedName: input.deviceEncryptedName,
    });
    return startSession(ctx, tx, { userId, cyphrId: input.cyphrId, deviceId: FIRST_DEVICE_ID });
  });
  return { userId, deviceId: FIRST_DEVICE_ID, session };
}
