/**
 * Reconnect delays: exponential backoff with full jitter (each delay uniformly random between 0
 * and the capped exponential), so that many clients dropped at once do not come back at once.
 */

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** A number in [0, 1). */
  random: () => number;
}

/** The delay before the next attempt after `failures` consecutive failed or ended streams (1, 2, …). */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 30);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  return Math.floor(policy.random() * ceiling);
}

/** The delay to wait: the backoff, but never less than what the server asked for (retry-after). */
export function reconnectDelay(failures: number, policy: BackoffPolicy, retryAfterMs?: number): number {
  return Math.max(backoffDelay(failures, policy), Math.min(retryAfterMs ?? 0, policy.maxDelayMs));
}
