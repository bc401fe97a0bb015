import type { DatabasePool } from "slonik";
import type { Db } from "../db/types.js";
import { ResourceExhaustedError } from "../shared/errors.js";
import { clearAttempts, type Factor, lockAttempts, saveFailure } from "./attempts-repo.js";
import { lockDurationMs } from "./lockout.js";

const FACTOR_NAMES: Record<Factor, string> = { pin: "PIN", totp: "TOTP" };

/**
 * Runs `check` for one attempt of a factor under the attempt limits: refused while
 * locked (RESOURCE_EXHAUSTED with retry-after, not counted); a failure is counted and may
 * lock; a success clears the count. `check` runs inside the transaction that holds the
 * attempts row, with the clock reading of the attempt. Counting happens in its own transaction, committed
 * even though the caller then fails, so no error path loses a failure.
 */
export async function attempt(
  pool: DatabasePool,
  now: () => number,
  userId: string,
  factor: Factor,
  check: (tx: Db, at: number) => Promise<boolean>,
): Promise<boolean> {
  return pool.transaction(async (tx) => {
    const state = await lockAttempts(tx, userId, factor);
    const at = now();
    if (state.lockedUntil && state.lockedUntil.getTime() > at) {
      const retryAfterMs = state.lockedUntil.getTime() - at;
      throw new ResourceExhaustedError(`too many wrong ${FACTOR_NAMES[factor]} attempts; try again in ${Math.ceil(retryAfterMs / 1000)} s`, retryAfterMs);
    }
    if (await check(tx, at)) {
      if (state.failures > 0) await clearAttempts(tx, userId, factor);
      return true;
    }
    const failures = state.failures + 1;
    const lockMs = lockDurationMs(failures);
    await saveFailure(tx, userId, factor, failures, lockMs > 0 ? new Date(at + lockMs) : null);
    return false;
  });
}
