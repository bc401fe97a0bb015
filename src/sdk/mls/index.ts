/** The SDK's MLS chat engine (see docs/sdk.md, "MLS chats"). */

export { MAX_SEND_ATTEMPTS } from "./calls.js";
export type { HistoryMessage, UnreadableReason } from "./history.js";
export { DEFAULT_KEY_PACKAGE_TARGET, type DeviceIdentity } from "./key-packages.js";
export { type CommitResult, type Content, HISTORY_PAGE_LIMIT, MAX_COMMIT_ATTEMPTS, MlsDevice, type TokenSource } from "./mls-device.js";
