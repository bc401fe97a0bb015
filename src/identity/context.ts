import type { DatabasePool } from "slonik";
import type { ActiveSessions } from "./active-sessions.js";
import type { ServerKeys } from "./server-keys.js";
import type { AccessTokens } from "./tokens.js";

/** What the identity use cases need; built once in the composition root. */
export interface IdentityContext {
  pool: DatabasePool;
  keys: ServerKeys;
  accessTokens: AccessTokens;
  refreshTokenTtlSeconds: number;
  activeSessions: ActiveSessions;
  /** Tells chat peers at once when a user turns presence sharing on or off (set by the realtime wiring). */
  onPresenceSharingChanged?: (userId: string, sharing: boolean) => Promise<void>;
  /**
   * Login's second factor (the account domain's TOTP check, set by the composition root):
   * resolves when the account needs none or `code` is valid, else throws.
   */
  requireSecondFactor?: (userId: string, code: string) => Promise<void>;
}

/** The credentials of one session, as handed to the client. */
export interface SessionTokens {
  sessionId: string;
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}
