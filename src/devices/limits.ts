/** Bounds of device linking (docs/limits.md). MAX_DEVICES is configuration; these are fixed. */
export const DEVICE_LINK_TTL_MS = 10 * 60_000;
/** Pending (not yet delivered) links in the whole deployment. */
export const MAX_PENDING_LINKS = 10_000;
/** Pending links begun from one source address. */
export const MAX_PENDING_LINKS_PER_SOURCE = 3;
/** BeginDeviceLink per source address: one a minute sustained, a burst of 5 (per instance). */
export const BEGIN_LINK_RATE_PER_SECOND = 1 / 60;
export const BEGIN_LINK_BURST = 5;
/** Largest provisioning blob, bytes. */
export const MAX_PROVISIONING_BLOB_BYTES = 65_536;
/** Largest client-encrypted device name, bytes. */
export const MAX_DEVICE_NAME_BYTES = 256;
/** Open WaitDeviceLink streams on one instance. */
export const MAX_LINK_WAITERS = 1_000;
/** How often a waiting stream reads its link row. */
export const LINK_POLL_MS = 500;
export const LINK_SECRET_BYTES = 32;
