import { createHmac } from "node:crypto";
import type { DatabasePool } from "slonik";
import { ResourceExhaustedError } from "../../shared/errors.js";
import { takeToken } from "./bucket-repo.js";

/** One limit: `ratePerSecond` sustained, `burst` saved up, per subject. */
export interface LimitSpec {
  /** Fixed name, part of the bucket key and of the error message. */
  name: string;
  ratePerSecond: number;
  burst: number;
}

/**
 * Rate limits that hold across instances: each subject's token bucket is a row of
 * rate_limit_buckets (migration 0012), keyed by HMAC(server secret, name ‖ 0x00 ‖ subject)
 * so no user id, Cyphr ID or address is stored. rate-limiter-flexible's PostgreSQL store
 * would need a second pg pool beside slonik's, outside its statement timeout and pool
 * metrics, and a table of its own making; one upsert on our pool does the same.
 */
export class SharedRateLimiter {
  constructor(
    private readonly pool: DatabasePool,
    private readonly secret: Buffer,
  ) {}

  /** Spends one token of `spec` for `subject`, or throws RESOURCE_EXHAUSTED with the delay to retry after. */
  async spend(spec: LimitSpec, subject: string): Promise<void> {
    const key = createHmac("sha256", this.secret).update(`${spec.name}\0${subject}`).digest();
    const retryAfterMs = await takeToken(this.pool, key, spec.ratePerSecond, spec.burst);
    if (retryAfterMs > 0) throw new ResourceExhaustedError(`${spec.name} rate limit exceeded; retry in ${retryAfterMs} ms`, retryAfterMs);
  }
}
