import type { Caller } from "../identity/tokens.js";
import type { AccountContext } from "./context.js";
import { findSecuritySettings, type StoredSecuritySettings } from "./security-settings-repo.js";

/** What protects an account now: locks that have run out (by the attempt-limit clock) are not reported. */
export interface SecuritySettings extends Omit<StoredSecuritySettings, "lockedUntil"> {
  pinLockedUntil: Date | null;
  totpLockedUntil: Date | null;
}

export async function getSecuritySettings(ctx: AccountContext, caller: Caller): Promise<SecuritySettings> {
  const { lockedUntil, ...stored } = await findSecuritySettings(ctx.pool, caller.userId);
  const now = ctx.now();
  const current = (until: Date | null) => (until && until.getTime() > now ? until : null);
  return { ...stored, pinLockedUntil: current(lockedUntil.pin), totpLockedUntil: current(lockedUntil.totp) };
}
