import type { DatabasePool } from "slonik";
import type { ActiveSessions } from "../identity/active-sessions.js";
import type { RateLimiter } from "../messaging/rate-limit.js";
import type { SourcePolicy } from "../rpc/peer.js";
import type { LinkWaiters } from "./link-waiters.js";

/** What the device use cases need; built once in the composition root. */
export interface DevicesContext {
  pool: DatabasePool;
  /** HMAC key for device fingerprints and link sources (the identity domain's fingerprint secret). */
  fingerprintSecret: Buffer;
  /** MAX_DEVICES: devices one account may have. */
  maxDevices: number;
  /** BeginDeviceLink per source address. */
  beginLimiter: RateLimiter;
  /** Pending links one source address may have. */
  pendingLinksPerSource: number;
  /** Where a BeginDeviceLink caller's source address is read (DEVICE_LINK_SOURCE). */
  sourcePolicy: SourcePolicy;
  activeSessions: ActiveSessions;
  waiters: LinkWaiters;
  /** How often a waiting WaitDeviceLink stream repeats `pending` (HEARTBEAT_INTERVAL_MS). */
  heartbeatIntervalMs: number;
}
