/** The SDK's realtime stream (see docs/sdk.md, "Realtime (Live)"). */

export type { IceServers } from "./chat-actions.js";
export { OUTBOX_LIMIT } from "./connection.js";
export type * from "./events.js";
export { Live } from "./live.js";
export { LIVE_DEFAULTS, type LiveAccount, type LiveOptions, type StreamMode } from "./options.js";
