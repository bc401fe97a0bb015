import type { DatabasePool } from "slonik";
import type { RateLimiter } from "./rate-limit.js";

/** What the messaging use cases need; built once in the composition root. */
export interface MessagingContext {
  pool: DatabasePool;
  maxPayloadBytes: number;
  sendLimiter: RateLimiter;
}
