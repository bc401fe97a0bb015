import type { DatabasePool } from "slonik";
import type { Db } from "../db/types.js";
import type { ActiveSessions } from "../identity/active-sessions.js";
import type { RateLimiter } from "../messaging/rate-limit.js";
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
  activeSessions: ActiveSessions;
  waiters: LinkWaiters;
  /**
   * Runs inside RemoveDevice's transaction, after the device row is gone: deletes what
   * other domains keep per device (the MLS key packages). Set by their wiring.
   */
  onDeviceRemoved?: (tx: Db, userId: string, deviceId: number) => Promise<void>;
}
