/** How long a routed Welcome is kept for a device that is offline. */
export const WELCOME_RETENTION_DAYS = 30;

/** Largest Welcome or GroupInfo accepted (they may carry the ratchet tree), in bytes. */
export const MAX_WELCOME_BYTES = 2 * 1024 * 1024;
export const MAX_GROUP_INFO_BYTES = 1024 * 1024;

/** Users one commit may add or remove. */
export const MAX_MEMBERSHIP_CHANGES = 100;

/** Chats whose protocol, suite and epoch an instance remembers (see ChatProtocols). */
export const CHAT_PROTOCOL_CACHE_ENTRIES = 100_000;
