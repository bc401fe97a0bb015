import type { Caller } from "../identity/tokens.js";
import { FailedPreconditionError, PermissionDeniedError } from "../shared/errors.js";
import { attempt } from "./attempts.js";
import type { AccountContext } from "./context.js";
import { requirePin } from "./pin-hash.js";
import { deletePin, findPinHash, replacePinHash, savePinHash } from "./pin-repo.js";

const WRONG_PIN = "wrong PIN";

/**
 * Checks `pin` against the account's PIN under the attempt limits, re-hashing it with the
 * configured costs when its hash was made with lower ones. False for a wrong PIN.
 */
export async function checkPin(ctx: AccountContext, userId: string, hash: string, pin: string): Promise<boolean> {
  const ok = await attempt(ctx.pool, ctx.now, userId, "pin", () => ctx.pinHashing.verify(hash, pin.normalize("NFC")));
  if (ok && ctx.pinHashing.isWeakerThanConfigured(hash)) {
    await replacePinHash(ctx.pool, userId, hash, await ctx.pinHashing.hash(pin.normalize("NFC")));
  }
  return ok;
}

/** Sets the PIN, or changes it when one is set (then `currentPin` must be right). */
export async function setPin(ctx: AccountContext, caller: Caller, pin: string, currentPin: string): Promise<void> {
  const next = requirePin("pin", pin);
  const existing = await findPinHash(ctx.pool, caller.userId);
  if (existing !== null && !(currentPin !== "" && (await checkPin(ctx, caller.userId, existing, currentPin)))) {
    throw new PermissionDeniedError(currentPin === "" ? `${WRONG_PIN}: current_pin is required to change the PIN` : WRONG_PIN);
  }
  await savePinHash(ctx.pool, caller.userId, await ctx.pinHashing.hash(next));
}

export async function removePin(ctx: AccountContext, caller: Caller, currentPin: string): Promise<void> {
  const existing = await findPinHash(ctx.pool, caller.userId);
  if (existing === null) throw new FailedPreconditionError("no PIN is set");
  if (!(await checkPin(ctx, caller.userId, existing, currentPin))) throw new PermissionDeniedError(WRONG_PIN);
  await deletePin(ctx.pool, caller.userId);
}
