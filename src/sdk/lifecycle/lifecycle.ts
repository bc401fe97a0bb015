import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { deleteAccountSignedBytes, recoveryKeySignedBytes } from "../../account/signed-bytes.js";
import { AccountService, TotpState } from "../../gen/cyphr/account/v1/account_pb.js";
import { call } from "../errors.js";
import type { AccountKeys } from "../keys.js";
import { recoveryKeyFromPhrase } from "./recovery-phrase.js";

/** One signed-in session of the account, as ListSessions reports it. */
export interface AccountSession {
  sessionId: string;
  deviceId: number;
  createdAt: Date | undefined;
  /** Midnight UTC of the day it was last refreshed (nothing finer is kept). */
  lastUsedDate: Date | undefined;
  /** The session this device is using. */
  current: boolean;
}

/** What protects the account now (GetSecuritySettings); days are midnight UTC. */
export interface SecuritySettings {
  recoveryKey: { set: false } | { set: true; setDate: Date | undefined };
  pin: { set: false } | { set: true; setDate: Date | undefined; lockedUntil: Date | undefined };
  /** Off, enrolled but not confirmed yet, or required at login. */
  totp: { state: "off" | "pending"; lockedUntil: Date | undefined } | { state: "on"; enabledDate: Date | undefined; lockedUntil: Date | undefined };
}

const TOTP_STATES: Partial<Record<TotpState, "off" | "pending" | "on">> = { [TotpState.OFF]: "off", [TotpState.PENDING]: "pending", [TotpState.ON]: "on" };

/** What the lifecycle needs from the Account it belongs to. */
export interface LifecycleHost {
  transport: Transport;
  keys: AccountKeys;
  authHeaders(): Promise<Record<string, string>>;
  /** Forgets this device's session tokens (after deletion). */
  forgetSession(): Promise<void>;
}

/**
 * An account's lifecycle after registration (cyphr.account.v1): sessions, the PIN, the
 * recovery phrase's key, TOTP two-factor login, deletion and export. Get it from
 * Account.lifecycle(); recovery of a lost account is recoverAccount (./recover.ts).
 */
export class AccountLifecycle {
  private readonly api: Client<typeof AccountService>;

  constructor(private readonly host: LifecycleHost) {
    this.api = createClient(AccountService, host.transport);
  }

  /** Whether a recovery key, a PIN and TOTP are set, and whether PIN or TOTP attempts are locked. */
  async securitySettings(): Promise<SecuritySettings> {
    const headers = await this.host.authHeaders();
    const res = await call(() => this.api.getSecuritySettings({}, { headers }));
    const date = (t: typeof res.pinSetDate) => t && timestampDate(t);
    const totpLockedUntil = date(res.totpLockedUntil);
    const totp = TOTP_STATES[res.totpState] ?? "off";
    return {
      recoveryKey: res.recoveryKeySet ? { set: true, setDate: date(res.recoveryKeySetDate) } : { set: false },
      pin: res.pinSet ? { set: true, setDate: date(res.pinSetDate), lockedUntil: date(res.pinLockedUntil) } : { set: false },
      totp:
        totp === "on" ? { state: "on", enabledDate: date(res.totpEnabledDate), lockedUntil: totpLockedUntil } : { state: totp, lockedUntil: totpLockedUntil },
    };
  }

  async listSessions(): Promise<AccountSession[]> {
    const headers = await this.host.authHeaders();
    const res = await call(() => this.api.listSessions({}, { headers }));
    return res.sessions.map((s) => ({
      sessionId: s.sessionId,
      deviceId: s.deviceId,
      createdAt: s.createdAt && timestampDate(s.createdAt),
      lastUsedDate: s.lastUsedDate && timestampDate(s.lastUsedDate),
      current: s.current,
    }));
  }

  /** Signs one session out everywhere (its streams end within a second). */
  async revokeSession(sessionId: string): Promise<void> {
    const headers = await this.host.authHeaders();
    await call(() => this.api.revokeSession({ sessionId }, { headers }));
  }

  /** Signs out every session but this device's; returns how many. */
  async revokeOtherSessions(): Promise<number> {
    const headers = await this.host.authHeaders();
    return (await call(() => this.api.revokeOtherSessions({}, { headers }))).revoked;
  }

  /** Sets the PIN, or changes it (then `currentPin` is required). */
  async setPin(pin: string, currentPin = ""): Promise<void> {
    const headers = await this.host.authHeaders();
    await call(() => this.api.setPin({ pin, currentPin }, { headers }));
  }

  async removePin(currentPin: string): Promise<void> {
    const headers = await this.host.authHeaders();
    await call(() => this.api.removePin({ currentPin }, { headers }));
  }

  /**
   * Makes `phrase` (from newRecoveryPhrase, shown to the user once) the account's way back:
   * only the public key derived from it is sent, signed by the identity key. A new phrase
   * replaces the previous one.
   */
  async setRecoveryPhrase(phrase: string): Promise<void> {
    const { publicKey } = recoveryKeyFromPhrase(phrase);
    const signature = ed25519.sign(recoveryKeySignedBytes(this.host.keys.cyphrId, publicKey), this.host.keys.identitySecretKey);
    const headers = await this.host.authHeaders();
    await call(() => this.api.setRecoveryKey({ recoveryPublicKey: publicKey, signature }, { headers }));
  }

  /** Starts TOTP enrolment: show `otpauthUri` as a QR code, then confirmTotp with a code from the app. */
  async enableTotp(): Promise<{ secret: string; otpauthUri: string }> {
    const headers = await this.host.authHeaders();
    return call(() => this.api.enableTotp({}, { headers }));
  }

  async confirmTotp(code: string): Promise<void> {
    const headers = await this.host.authHeaders();
    await call(() => this.api.confirmTotp({ code }, { headers }));
  }

  async disableTotp(code: string): Promise<void> {
    const headers = await this.host.authHeaders();
    await call(() => this.api.disableTotp({ code }, { headers }));
  }

  /**
   * Deletes the account for good, signed by the identity key over a fresh server nonce;
   * this device's tokens are forgotten. Returns when the Cyphr ID may be registered again.
   */
  async deleteAccount(): Promise<{ cyphrIdAvailableAt: Date | undefined }> {
    const headers = await this.host.authHeaders();
    const { nonce } = await call(() => this.api.createDeletionChallenge({}, { headers }));
    const signature = ed25519.sign(deleteAccountSignedBytes(this.host.keys.cyphrId, nonce), this.host.keys.identitySecretKey);
    const res = await call(() => this.api.deleteAccount({ nonce, signature }, { headers }));
    await this.host.forgetSession();
    return { cyphrIdAvailableAt: res.cyphrIdAvailableAt && timestampDate(res.cyphrIdAvailableAt) };
  }

  /** Everything the server stores about the account, as the JSON document it streams (GDPR art. 15/20). */
  async exportData(): Promise<Record<string, unknown>> {
    const headers = await this.host.authHeaders();
    const parts: Uint8Array[] = [];
    let size = 0;
    await call(async () => {
      for await (const { chunk } of this.api.exportAccountData({}, { headers })) {
        parts.push(chunk);
        size += chunk.length;
      }
    });
    const all = new Uint8Array(size);
    let offset = 0;
    for (const part of parts) {
      all.set(part, offset);
      offset += part.length;
    }
    return JSON.parse(new TextDecoder().decode(all)) as Record<string, unknown>;
  }
}
