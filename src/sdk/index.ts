/** The Cyphr SDK core: runs in Node and in browsers (no Node-only imports here; see ./node/). */
export { Account, type AccountDevice, type AccountOptions, type DeviceList } from "./account.js";
export { CyphrError, toCyphrError, type CyphrErrorCode } from "./errors.js";
export type { PendingLink } from "./pending-link.js";
export { MlsDevice, type CommitResult, type HistoryMessage, type TokenSource, type UnreadableReason } from "./mls/index.js";
export { MemoryStore, type Store } from "./store.js";
