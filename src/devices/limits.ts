/**
 * Fixed bounds of device linking (docs/limits.md). MAX_DEVICES, the BeginDeviceLink rate
 * and the pending links per source are configuration (src/config.ts).
 */
export const DEVICE_LINK_TTL_MS = 10 * 60_000;
/** Pending (not yet delivered) links in the whole deployment. */
export const MAX_PENDING_LINKS = 10_000;
/** Largest provisioning blob, bytes. */
export const MAX_PROVISIONING_BLOB_BYTES = 65_536;
/** Largest client-encrypted device name, bytes. */
export const MAX_DEVICE_NAME_BYTES = 256;
/** Open WaitDeviceLink streams on one instance. */
export const MAX_LINK_WAITERS = 1_000;
/** How often a waiting stream reads its link row. */
export const LINK_POLL_MS = 500;
export const LINK_SECRET_BYTES = 32;
