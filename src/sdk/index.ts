/** The Cyphr SDK core: runs in Node and in browsers (no Node-only imports here; see ./node/). */
export { Account, type AccountDevice, type AccountOptions, type DeviceList } from "./account.js";
export {
  type AttachmentRef,
  Attachments,
  decodeReference,
  encodeReference,
  type PendingUpload,
  type Progress,
  type SentFile,
  type UploadOptions,
} from "./attachments/index.js";
export { CyphrError, type CyphrErrorCode, type CyphrErrorReason, toCyphrError } from "./errors.js";
export { AccountLifecycle, type AccountSession, newRecoveryPhrase, recoverAccount, recoveryKeyFromPhrase } from "./lifecycle/index.js";
export { type CommitResult, type Content, type HistoryMessage, MlsDevice, type TokenSource, type UnreadableReason } from "./mls/index.js";
export { type IdentityChange, type IdentityNotice, MAX_IDENTITY_CHANGES, PeerIdentities, type PeerIdentity } from "./peers.js";
export type { PendingLink } from "./pending-link.js";
export * from "./realtime/index.js";
export { safetyNumber } from "./safety-number.js";
export { MemoryStore, type Store } from "./store.js";
