import { randomBytes } from "node:crypto";
import { InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "../shared/errors.js";
import type { IdentityContext, SessionTokens } from "./context.js";
import { assertCyphrIdFormat } from "./cyphr-id.js";
import { sameFingerprint } from "./fingerprint.js";
import {
  assertLength,
  DEVICE_FINGERPRINT_BYTES,
  ED25519_SIGNATURE_BYTES,
  LOGIN_NONCE_BYTES,
  loginSignedBytes,
  verifySignature,
} from "./keys.js";
import { findIdentityByCyphrId } from "./repo.js";
import { consumeChallenge, deleteExpiredChallenges, insertChallenge } from "./session-repo.js";
import { startSession } from "./sessions.js";

export const CHALLENGE_TTL_MS = 60_000;
/** One message for every credential failure, so that callers cannot tell which part was wrong. */
const INVALID_CREDENTIALS = "invalid login credentials";
/** The Ed25519 base point: a valid key nobody's signatures verify against here. */
const TIMING_DECOY_KEY = Buffer.from("5866666666666666666666666666666666666666666666666666666666666666", "hex");

export interface LoginInput {
  cyphrId: string;
  deviceFingerprint: Uint8Array;
  nonce: Uint8Array;
  signature: Uint8Array;
}

/** Issues a nonce for any well-formed id, registered or not. */
export async function createChallenge(ctx: IdentityContext, cyphrId: string): Promise<{ nonce: Buffer; expiresAt: Date }> {
  assertCyphrIdFormat(cyphrId);
  const nonce = randomBytes(LOGIN_NONCE_BYTES);
  const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS);
  await insertChallenge(ctx.pool, nonce, cyphrId, expiresAt);
  return { nonce, expiresAt };
}

export async function login(ctx: IdentityContext, input: LoginInput): Promise<{ userId: string; session: SessionTokens }> {
  assertCyphrIdFormat(input.cyphrId);
  assertLength("device_fingerprint", input.deviceFingerprint, DEVICE_FINGERPRINT_BYTES);
  assertLength("nonce", input.nonce, LOGIN_NONCE_BYTES);
  if (input.signature.length !== ED25519_SIGNATURE_BYTES) {
    throw new InvalidArgumentError(`signature must be ${ED25519_SIGNATURE_BYTES} bytes, got ${input.signature.length}`);
  }

  // Consumed before anything else is checked, outside any transaction: a nonce is
  // spent by its first use whether or not that login succeeds.
  const nonceValid = await consumeChallenge(ctx.pool, Buffer.from(input.nonce), input.cyphrId);
  const identity = await findIdentityByCyphrId(ctx.pool, input.cyphrId);
  const signed = loginSignedBytes(input.cyphrId, input.nonce, input.deviceFingerprint);
  // Verify even for unknown ids (against a fixed key) so timing does not tell which ids exist.
  const signatureValid = verifySignature(input.signature, signed, identity?.identity_public_key ?? TIMING_DECOY_KEY);
  if (!nonceValid || !identity || !signatureValid) {
    throw new UnauthenticatedError(INVALID_CREDENTIALS);
  }
  if (!sameFingerprint(ctx.keys.fingerprintSecret, input.deviceFingerprint, identity.device_fingerprint_hmac)) {
    throw new PermissionDeniedError("unknown device; use account recovery");
  }
  const session = await ctx.pool.transaction((tx) =>
    startSession(ctx, tx, { userId: identity.id, cyphrId: identity.cyphr_id }),
  );
  return { userId: identity.id, session };
}

/** Removes nonces that can no longer be used; run periodically. */
export async function purgeExpiredChallenges(ctx: IdentityContext): Promise<number> {
  return deleteExpiredChallenges(ctx.pool);
}
