/** The Cyphr SDK core: runs in Node and in browsers (no Node-only imports here; see ./node/). */
export { Account, type AccountDevice, type AccountOptions, type DeviceList } from "./account.js";
export { CyphrError, toCyphrError, type CyphrErrorCode, type CyphrErrorReason } from "./errors.js";
export { AccountLifecycle, newRecoveryPhrase, recoverAccount, recoveryKeyFromPhrase, type AccountSession } from "./lifecycle/index.js";
export type { PendingLink } from "./pending-link.js";
export { MlsDevice, type CommitResult, type Content, type HistoryMessage, type TokenSource, type UnreadableReason } from "./mls/index.js";
export * from "./realtime/index.js";
export { PeerIdentities, MAX_IDENTITY_CHANGES, type IdentityChange, type IdentityNotice, type PeerIdentity } from "./peers.js";
export { safetyNumber } from "./safety-number.js";
export { MemoryStore, type Store } from "./store.js";
export { Attachments, decodeReference, encodeReference, type AttachmentRef, type PendingUpload, type Progress, type SentFile, type UploadOptions } from "./attachments/index.js";
