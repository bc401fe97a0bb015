import type { DatabasePool } from "slonik";
import type { IdentityContext } from "../identity/context.js";
import type { PinHashing } from "./pin-hash.js";

/** What the account lifecycle use cases need; built once in the composition root. */
export interface AccountContext {
  pool: DatabasePool;
  /** Sessions are started, revoked and cached by the identity domain. */
  identity: IdentityContext;
  pinHashing: PinHashing;
  /** AES-256-GCM key sealing TOTP secrets (TOTP_KEY_FILE, or generated in the data folder). */
  totpKey: Buffer;
  /** Days a deleted account's Cyphr ID stays unregistrable (ID_QUARANTINE_DAYS). */
  idQuarantineDays: number;
  /**
   * The clock of the attempt limits and TOTP steps, in milliseconds since the epoch.
   * Replaceable (tests move it instead of sleeping).
   */
  now: () => number;
}
