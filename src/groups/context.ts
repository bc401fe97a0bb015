import type { DatabasePool } from "slonik";
import type { RateLimiter } from "../messaging/rate-limit.js";

/** What the group use cases need. */
export interface GroupsContext {
  pool: DatabasePool;
  /** Largest group, the creator included. */
  maxMembers: number;
  /** The per-sender send budget: creating a group writes its first message, so it spends one send. */
  sendLimiter: RateLimiter;
}
