/**
 * The attempt-limit schedule of the PIN and TOTP factors: the first FREE_FAILURES
 * consecutive failures cost nothing; failure n ≥ LOCK_AFTER locks the factor for
 * BASE_LOCK_MS × 2^(n − LOCK_AFTER), at most MAX_LOCK_MS.
 */
export const LOCK_AFTER = 5;
export const BASE_LOCK_MS = 30_000;
export const MAX_LOCK_MS = 24 * 3_600_000;

/** How long the factor is locked after its `failures`-th consecutive failure (0: not locked). */
export function lockDurationMs(failures: number): number {
  if (failures < LOCK_AFTER) return 0;
  const doublings = failures - LOCK_AFTER;
  // 2^12 × 30 s already exceeds a day: stop doubling before the number grows without bound.
  return doublings >= 12 ? MAX_LOCK_MS : Math.min(MAX_LOCK_MS, BASE_LOCK_MS * 2 ** doublings);
}
