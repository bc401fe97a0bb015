import type { DatabasePool } from "slonik";
import type { IdentityContext } from "../identity/context.js";
import type { RateLimiter } from "../messaging/rate-limit.js";
import type { SourcePolicy } from "../rpc/peer.js";
import type { PinHashing } from "./pin-hash.js";

/** What the account lifecycle use cases need; built once in the composition root. */
export interface AccountContext {
  pool: DatabasePool;
  /** Sessions are started, revoked and cached by the identity domain. */
  identity: IdentityContext;
  pinHashing: PinHashing;
  /** AES-256-GCM key sealing TOTP secrets (TOTP_KEY_FILE, or generated in the data folder). */
  totpKey: Buffer;
  /** Days a deleted account's Cyphr ID stays unregistrable (ID_QUARANTINE_DAYS). */
  idQuarantineDays: number;
  /** CreateRecoveryChallenge and RecoverAccount per source address (in memory, per instance). */
  recoverySourceLimiter: RateLimiter;
  /** RecoverAccount per Cyphr ID (in memory, per instance). */
  recoveryAccountLimiter: RateLimiter;
  /** Where a caller's source address is read (DEVICE_LINK_SOURCE's policy). */
  sourcePolicy: SourcePolicy;
  /**
   * The clock of the attempt limits and TOTP steps, in milliseconds since the epoch.
   * Replaceable (tests move it instead of sleeping).
   */
  now: () => number;
}
