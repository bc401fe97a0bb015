import { randomBytes } from "node:crypto";
import { ForeignKeyIntegrityConstraintViolationError } from "slonik";
import { assertDeviceId } from "../devices/certificates.js";
import { findDevice } from "../devices/repo.js";
import { loginSignedBytes } from "../devices/signed-bytes.js";
import { InvalidArgumentError, UnauthenticatedError } from "../shared/errors.js";
import type { IdentityContext, SessionTokens } from "./context.js";
import { assertCyphrIdFormat } from "./cyphr-id.js";
import { assertLength, ED25519_SIGNATURE_BYTES, LOGIN_NONCE_BYTES, verifySignature } from "./keys.js";
import { findIdentityByCyphrId } from "./repo.js";
import { consumeChallenge, insertChallenge } from "./session-repo.js";
import { startSession } from "./sessions.js";

export const CHALLENGE_TTL_MS = 60_000;
/** One message for every credential failure, so that callers cannot tell which part was wrong. */
const INVALID_CREDENTIALS = "invalid login credentials";
/** The Ed25519 base point: a valid key nobody's signatures verify against here. */
const TIMING_DECOY_KEY = Buffer.from("5866666666666666666666666666666666666666666666666666666666666666", "hex");

export interface LoginInput {
  cyphrId: string;
  deviceId: number;
  nonce: Uint8Array;
  signature: Uint8Array;
  /** The TOTP code while two-factor login is on; empty otherwise. */
  totpCode?: string;
}

/** Issues a nonce for any well-formed id, registered or not. */
export async function createChallenge(ctx: IdentityContext, cyphrId: string): Promise<{ nonce: Buffer; expiresAt: Date }> {
  assertCyphrIdFormat(cyphrId);
  const nonce = randomBytes(LOGIN_NONCE_BYTES);
  const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS);
  await insertChallenge(ctx.pool, nonce, cyphrId, expiresAt);
  return { nonce, expiresAt };
}

/**
 * Signs in one device: the nonce must be signed by that device's key. An unknown id, an
 * unknown or removed device and a bad signature give the same answer.
 */
export async function login(ctx: IdentityContext, input: LoginInput): Promise<{ userId: string; deviceId: number; session: SessionTokens }> {
  assertCyphrIdFormat(input.cyphrId);
  assertDeviceId("device_id", input.deviceId);
  assertLength("nonce", input.nonce, LOGIN_NONCE_BYTES);
  if (input.signature.length !== ED25519_SIGNATURE_BYTES) {
    throw new InvalidArgumentError(`signature must be ${ED25519_SIGNATURE_BYTES} bytes, got ${input.signature.length}`);
  }

  // Consumed before anything else is checked, outside any transaction: a nonce is
  // spent by its first use whether or not that login succeeds.
  const nonceValid = await consumeChallenge(ctx.pool, Buffer.from(input.nonce), input.cyphrId);
  const identity = await findIdentityByCyphrId(ctx.pool, input.cyphrId);
  const device = identity ? await findDevice(ctx.pool, identity.id, input.deviceId) : null;
  const signed = loginSignedBytes(input.cyphrId, input.deviceId, input.nonce);
  // Verify even for unknown ids and devices (against a fixed key) so timing does not tell which exist.
  const signatureValid = verifySignature(input.signature, signed, device?.signingKey ?? TIMING_DECOY_KEY);
  if (!nonceValid || !identity || !device || !signatureValid) {
    throw new UnauthenticatedError(INVALID_CREDENTIALS);
  }
  await ctx.requireSecondFactor?.(identity.id, input.totpCode ?? "");
  const session = await ctx.pool
    .transaction((tx) => startSession(ctx, tx, { userId: identity.id, cyphrId: identity.cyphr_id, deviceId: device.deviceId }))
    .catch((error: unknown) => {
      // The device was removed between the lookup and the session insert.
      if (error instanceof ForeignKeyIntegrityConstraintViolationError) throw new UnauthenticatedError(INVALID_CREDENTIALS);
      throw error;
    });
  return { userId: identity.id, deviceId: device.deviceId, session };
}
