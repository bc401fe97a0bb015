import type { DatabasePool } from "slonik";
import type { RateLimiter } from "../messaging/rate-limit.js";
import type { SupportedCiphersuite } from "../mls/suites.js";

/** What the key package use cases need; built once in the composition root. */
export interface KeyPackagesContext {
  pool: DatabasePool;
  /** MLS_CIPHERSUITES: accepted suites, the default first. */
  ciphersuites: readonly SupportedCiphersuite[];
  /** MAX_KEY_PACKAGES: one-time packages per device, all suites together. */
  maxKeyPackages: number;
  /** KEY_PACKAGES_LOW_THRESHOLD. */
  lowThreshold: number;
  /** UploadKeyPackages per device. */
  uploadLimiter: RateLimiter;
  /** ClaimKeyPackages per (claimer, claimed user). */
  claimLimiter: RateLimiter;
}
