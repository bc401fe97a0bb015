import { ResourceExhaustedError } from "../shared/errors.js";

/** Takes one of the user's sends, or fails with RESOURCE_EXHAUSTED saying when to retry. */
export function spendSend(limiter: RateLimiter, userId: string): void {
  const retryAfterMs = limiter.take(userId);
  if (retryAfterMs > 0) throw new ResourceExhaustedError(`send rate limit exceeded; retry in ${retryAfterMs} ms`, retryAfterMs);
}

/**
 * Per-key token buckets: `ratePerSecond` tokens a second, at most `burst` saved up.
 * State is per process: with N instances a sender may reach N times the rate, which
 * Envoy's edge limits bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes a token; returns 0 when allowed, else the milliseconds until one is available. */
  take(key: string): number {
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.ratePerSecond) / 1000);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 1000) / this.ratePerSecond);
  }

  /** Forgets buckets that have refilled completely, so idle senders cost no memory. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const fullAfterMs = (this.burst * 1000) / this.ratePerSecond;
    for (const [key, bucket] of this.buckets) if (now - bucket.at > fullAfterMs) this.buckets.delete(key);
  }
}
