export { AccountLifecycle, type AccountSession, type SecuritySettings } from "./lifecycle.js";
export { recoverAccount } from "./recover.js";
export { newRecoveryPhrase, recoveryKeyFromPhrase } from "./recovery-phrase.js";
