import { assertDeviceName, requireDeviceCertificate } from "../devices/certificates.js";
import { advanceNextDeviceId, insertDevice, lockAccountDevices } from "../devices/repo.js";
import { notify } from "../events/notify.js";
import type { SessionTokens } from "../identity/context.js";
import { assertCyphrIdFormat } from "../identity/cyphr-id.js";
import { fingerprintHmac } from "../identity/fingerprint.js";
import {
  assertLength,
  assertValidEd25519Key,
  assertValidIdentityKey,
  assertValidMlKemKey,
  DEVICE_FINGERPRINT_BYTES,
  ED25519_SIGNATURE_BYTES,
  verifySignature,
} from "../identity/keys.js";
import { findIdentityById } from "../identity/repo.js";
import { startSession } from "../identity/sessions.js";
import type { Caller } from "../identity/tokens.js";
import { FailedPreconditionError, PermissionDeniedError, UnauthenticatedError } from "../shared/errors.js";
import { ACCOUNT_NONCE_BYTES, ChallengePurpose, consumeChallenge, issueChallenge } from "./challenges.js";
import type { AccountContext } from "./context.js";
import { recordIdentityChanged } from "./identity-changed.js";
import { checkPin } from "./pin.js";
import { deleteAllDevices, findRecoverableAccount, replaceIdentityKeys, saveRecoveryKey } from "./recovery-repo.js";
import { recoverSignedBytes, recoveryKeySignedBytes } from "./signed-bytes.js";

/** One answer for a wrong signature, a wrong PIN, an unknown id and a bad nonce. */
export const RECOVERY_FAILED = "account recovery failed";
/** The Ed25519 base point: a valid key nobody's signatures verify against here. */
const TIMING_DECOY_KEY = Buffer.from("5866666666666666666666666666666666666666666666666666666666666666", "hex");

export async function setRecoveryKey(ctx: AccountContext, caller: Caller, publicKey: Uint8Array, signature: Uint8Array): Promise<void> {
  assertValidEd25519Key("recovery_public_key", publicKey);
  assertLength("signature", signature, ED25519_SIGNATURE_BYTES);
  const identity = await findIdentityById(ctx.pool, caller.userId);
  if (!identity) throw new UnauthenticatedError("the account no longer exists");
  if (!verifySignature(signature, recoveryKeySignedBytes(identity.cyphr_id, publicKey), identity.identity_public_key)) {
    throw new PermissionDeniedError("signature does not verify with the identity key");
  }
  await saveRecoveryKey(ctx.pool, caller.userId, publicKey, signature);
}

/** A recovery nonce; rate-limited per source address before it gets here (RATE_LIMIT_RECOVERY, src/privacy/limits). */
export async function createRecoveryChallenge(ctx: AccountContext, cyphrId: string): Promise<{ nonce: Buffer; expiresAt: Date; deviceId: number }> {
  assertCyphrIdFormat(cyphrId);
  const account = await findRecoverableAccount(ctx.pool, cyphrId);
  const challenge = await issueChallenge(ctx.pool, ChallengePurpose.recovery, cyphrId);
  return { ...challenge, deviceId: account?.nextDeviceId ?? 1 };
}

export interface RecoverInput {
  cyphrId: string;
  nonce: Uint8Array;
  identityPublicKey: Uint8Array;
  mlKemPublicKey: Uint8Array;
  deviceFingerprint: Uint8Array;
  deviceSigningKey: Uint8Array;
  deviceCertificate: Uint8Array;
  deviceEncryptedName: Uint8Array;
  signature: Uint8Array;
  pin: string;
}

/**
 * Recovers an account whose devices are all lost: checks the recovery key's signature
 * (and the PIN when one is set), then rotates the keys, replaces every device with the
 * new one and tells the account's chat peers, in one transaction. Rate-limited per source
 * address and per Cyphr ID before it gets here (RATE_LIMIT_RECOVERY, RATE_LIMIT_RECOVERY_ACCOUNT,
 * src/privacy/limits), so a wrong signature, a wrong PIN and an unknown id all cost one try.
 */
export async function recoverAccount(ctx: AccountContext, input: RecoverInput): Promise<{ userId: string; deviceId: number; session: SessionTokens }> {
  assertCyphrIdFormat(input.cyphrId);
  assertLength("nonce", input.nonce, ACCOUNT_NONCE_BYTES);
  assertValidIdentityKey(input.identityPublicKey);
  assertValidMlKemKey(input.mlKemPublicKey);
  assertLength("device_fingerprint", input.deviceFingerprint, DEVICE_FINGERPRINT_BYTES);
  assertValidEd25519Key("device_signing_key", input.deviceSigningKey);
  assertLength("device_certificate", input.deviceCertificate, ED25519_SIGNATURE_BYTES);
  assertDeviceName("device_encrypted_name", input.deviceEncryptedName);
  assertLength("signature", input.signature, ED25519_SIGNATURE_BYTES);
  // Spent by its first use, whether or not the recovery then succeeds.
  const nonceValid = await consumeChallenge(ctx.pool, ChallengePurpose.recovery, input.nonce, input.cyphrId);
  const account = await findRecoverableAccount(ctx.pool, input.cyphrId);
  const deviceId = account?.nextDeviceId ?? 1;
  const signed = recoverSignedBytes({ ...input, deviceId });
  // Verified even without an account or key (against a fixed key) so timing does not tell which exist.
  const signatureValid = verifySignature(input.signature, signed, account?.recoveryKey ?? TIMING_DECOY_KEY);
  if (!nonceValid || !account?.recoveryKey || !signatureValid) throw new UnauthenticatedError(RECOVERY_FAILED);
  if (account.pinHash !== null && !(input.pin !== "" && (await checkPin(ctx, account.userId, account.pinHash, input.pin)))) {
    throw new UnauthenticatedError(RECOVERY_FAILED);
  }
  requireDeviceCertificate("device_certificate", input.deviceCertificate, {
    cyphrId: input.cyphrId,
    deviceId,
    deviceSigningKey: input.deviceSigningKey,
    identityPublicKey: input.identityPublicKey,
  });

  const { session, revoked } = await ctx.pool.transaction(async (tx) => {
    const locked = await lockAccountDevices(tx, account.userId);
    if (locked.nextDeviceId !== deviceId) throw new FailedPreconditionError("the account's devices changed during recovery; start again");
    await replaceIdentityKeys(tx, account.userId, input.identityPublicKey, input.mlKemPublicKey);
    const revoked = await deleteAllDevices(tx, account.userId);
    await insertDevice(tx, {
      userId: account.userId,
      deviceId,
      signingKey: input.deviceSigningKey,
      certificate: input.deviceCertificate,
      fingerprintHmac: fingerprintHmac(ctx.identity.keys.fingerprintSecret, input.deviceFingerprint),
      encryptedName: input.deviceEncryptedName,
    });
    await advanceNextDeviceId(tx, account.userId, deviceId);
    await notify(
      tx,
      revoked.map((sessionId) => ({ type: "revoke" as const, userId: account.userId, sessionId })),
    );
    await recordIdentityChanged(tx, account.userId, input.cyphrId, input.identityPublicKey);
    const session = await startSession(ctx.identity, tx, { userId: account.userId, cyphrId: input.cyphrId, deviceId });
    return { session, revoked };
  });
  for (const sessionId of revoked) ctx.identity.activeSessions.revoke(sessionId);
  return { userId: account.userId, deviceId, session };
}
