/** Key packages in one UploadKeyPackages call. */
export const MAX_UPLOAD_PACKAGES = 100;

/** UploadKeyPackages per device: each call verifies up to 200 Ed25519 signatures. */
export const UPLOAD_RATE_PER_SECOND = 1;
export const UPLOAD_BURST = 5;

/** ClaimKeyPackages per (claimer, claimed user): enough to build groups, too few to drain a device. */
export const CLAIM_RATE_PER_SECOND = 0.2;
export const CLAIM_BURST = 10;

/**
 * How long a claimed package's row (its ref and device, without the package) is kept to
 * route the Welcome naming it; a Welcome arriving later than this is refused.
 */
export const CLAIMED_REF_RETENTION_DAYS = 30;
