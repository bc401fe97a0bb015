import type { LimitSpec } from "./shared-limiter.js";

/**
 * The limits that hold across instances, in one place (as Signal's RateLimiters): each is
 * `RATE_LIMIT_<NAME>` = "<per minute>/<burst>", per subject (a source address for calls
 * made before sign-in, else the caller's account). Exceeding one answers RESOURCE_EXHAUSTED
 * with retry-after.
 */
export const LIMIT_DEFAULTS = {
  /** Register, per source address. */
  register: { perMinute: 30, burst: 300 },
  /** CreateChallenge, per source address. */
  create_challenge: { perMinute: 120, burst: 600 },
  /** Login, per source address. */
  login: { perMinute: 120, burst: 600 },
  /** Login, per Cyphr ID tried (guessing one account's device keys from many addresses). */
  login_account: { perMinute: 20, burst: 60 },
  /** CreateRecoveryChallenge and RecoverAccount together, per source address. */
  recovery: { perMinute: 5, burst: 10 },
  /** RecoverAccount, per Cyphr ID tried, whatever the source (counted before the answer, so every failure costs the same). */
  recovery_account: { perMinute: 5, burst: 10 },
  /** SearchUsers, per caller. */
  search_users: { perMinute: 60, burst: 120 },
  /** KeyPackagesService.ClaimKeyPackages, per caller (beside the per-target in-process limit). */
  key_package_claims: { perMinute: 600, burst: 1200 },
  /** Typing frames, per caller. */
  typing: { perMinute: 300, burst: 300 },
  /** Call signals, per caller. */
  call_signals: { perMinute: 1200, burst: 600 },
} as const;

export type LimitName = keyof typeof LIMIT_DEFAULTS;
export type RateLimits = Record<LimitName, LimitSpec>;

/** Reads RATE_LIMIT_* ("<per minute>/<burst>", both positive integers), reporting bad values. */
export function readRateLimits(env: Record<string, string | undefined>, problems: string[]): RateLimits {
  const limits = {} as RateLimits;
  for (const [name, fallback] of Object.entries(LIMIT_DEFAULTS) as [LimitName, { perMinute: number; burst: number }][]) {
    const variable = `RATE_LIMIT_${name.toUpperCase()}`;
    const raw = env[variable]?.trim();
    let { perMinute, burst } = fallback;
    if (raw) {
      const match = /^(\d{1,9})\/(\d{1,9})$/.exec(raw);
      if (!match || Number(match[1]) < 1 || Number(match[2]) < 1)
        problems.push(`${variable} must be "<per minute>/<burst>" (positive integers), got "${raw.slice(0, 64)}"`);
      else [perMinute, burst] = [Number(match[1]), Number(match[2])];
    }
    limits[name] = { name, ratePerSecond: perMinute / 60, burst };
  }
  return limits;
}
