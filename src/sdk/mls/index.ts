/** The SDK's MLS chat engine (see docs/sdk.md, "MLS chats"). */
export { HISTORY_PAGE_LIMIT, MlsDevice, MAX_COMMIT_ATTEMPTS, type CommitResult, type Content, type TokenSource } from "./mls-device.js";
export { DEFAULT_KEY_PACKAGE_TARGET, type DeviceIdentity } from "./key-packages.js";
export { MAX_SEND_ATTEMPTS } from "./calls.js";
export type { HistoryMessage, UnreadableReason } from "./history.js";
