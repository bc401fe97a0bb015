import { Secret, TOTP } from "otpauth";
import type { Db } from "../db/types.js";
import type { Caller } from "../identity/tokens.js";
import { FailedPreconditionError, InvalidArgumentError, PermissionDeniedError, UnauthenticatedError } from "../shared/errors.js";
import { attempt } from "./attempts.js";
import type { AccountContext } from "./context.js";
import { openTotpSecret, sealTotpSecret } from "./totp-key.js";
import { acceptTotpStep, deleteTotp, findTotp, lockTotp, savePendingTotp } from "./totp-repo.js";

/** RFC 6238 as authenticator apps expect it: SHA-1, 6 digits, 30-second steps. */
const PERIOD_SECONDS = 30;
const DIGITS = 6;
/** Codes of the previous and next step are accepted too (clock drift). */
const WINDOW = 1;
const ISSUER = "Cyphr";
const INVALID_CODE = "invalid TOTP code";

function totpFor(secret: Uint8Array, label: string): TOTP {
  return new TOTP({ issuer: ISSUER, label, algorithm: "SHA1", digits: DIGITS, period: PERIOD_SECONDS, secret: new Secret({ buffer: toArrayBuffer(secret) }) });
}

/** Starts enrolment: a new secret, shown once (the only time it leaves the server). */
export async function enableTotp(ctx: AccountContext, caller: Caller): Promise<{ secret: string; uri: string }> {
  const secret = new Secret({ size: 20 });
  const sealed = sealTotpSecret(ctx.totpKey, caller.userId, secret.bytes);
  if (!(await savePendingTotp(ctx.pool, caller.userId, sealed))) throw new FailedPreconditionError("TOTP is already enabled");
  return { secret: secret.base32, uri: totpFor(secret.bytes, caller.cyphrId).toString() };
}

export async function confirmTotp(ctx: AccountContext, caller: Caller, code: string): Promise<void> {
  requireCodeFormat(code);
  const enrolment = await findTotp(ctx.pool, caller.userId);
  if (!enrolment || enrolment.confirmedAt !== null) throw new FailedPreconditionError("no TOTP enrolment is pending");
  if (!(await checkCode(ctx, caller.userId, code, "pending"))) throw new PermissionDeniedError(INVALID_CODE);
}

export async function disableTotp(ctx: AccountContext, caller: Caller, code: string): Promise<void> {
  requireCodeFormat(code);
  const enrolment = await findTotp(ctx.pool, caller.userId);
  if (!enrolment?.confirmedAt) throw new FailedPreconditionError("TOTP is not enabled");
  if (!(await checkCode(ctx, caller.userId, code, "confirmed"))) throw new PermissionDeniedError(INVALID_CODE);
  await deleteTotp(ctx.pool, caller.userId);
}

/** Login's second factor: nothing while TOTP is off; otherwise a valid, unused code. */
export async function requireLoginCode(ctx: AccountContext, userId: string, code: string): Promise<void> {
  const enrolment = await findTotp(ctx.pool, userId);
  if (!enrolment?.confirmedAt) return;
  if (code === "") throw new UnauthenticatedError("a TOTP code is required", "TOTP_REQUIRED");
  if (!/^\d{6}$/.test(code) || !(await checkCode(ctx, userId, code, "confirmed"))) throw new UnauthenticatedError(INVALID_CODE, "TOTP_INVALID");
}

/**
 * Checks a code under the attempt limits. A code is accepted once: its time step must be
 * later than the last accepted one, which is then moved to it.
 */
function checkCode(ctx: AccountContext, userId: string, code: string, state: "pending" | "confirmed"): Promise<boolean> {
  return attempt(ctx.pool, ctx.now, userId, "totp", async (tx: Db, at: number) => {
    const enrolment = await lockTotp(tx, userId);
    if (!enrolment || (state === "confirmed") !== (enrolment.confirmedAt !== null)) return false;
    const secret = openTotpSecret(ctx.totpKey, userId, enrolment.sealed);
    const delta = totpFor(secret, "").validate({ token: code, timestamp: at, window: WINDOW });
    if (delta === null) return false;
    const step = Math.floor(at / 1000 / PERIOD_SECONDS) + delta;
    if (step <= enrolment.lastStep) return false;
    await acceptTotpStep(tx, userId, step);
    return true;
  });
}

function requireCodeFormat(code: string): void {
  if (!/^\d{6}$/.test(code)) throw new InvalidArgumentError("code must be 6 digits");
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
