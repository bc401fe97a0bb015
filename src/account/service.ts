import { type Timestamp, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { AccountService, TotpState } from "../gen/cyphr/account/v1/account_pb.js";
import { sessionMessage } from "../identity/wire.js";
import { requireCaller } from "../rpc/caller.js";
import type { AccountContext } from "./context.js";
import { createDeletionChallenge, deleteAccount } from "./deletion.js";
import { exportAccountData } from "./export.js";
import { removePin, setPin } from "./pin.js";
import { createRecoveryChallenge, recoverAccount, setRecoveryKey } from "./recovery.js";
import { getSecuritySettings } from "./security-settings.js";
import { listSessions, revokeOtherSessions, revokeSession } from "./sessions.js";
import { confirmTotp, disableTotp, enableTotp } from "./totp.js";

/** AccountService methods callable without a token (the caller has lost every device). */
export const ACCOUNT_PUBLIC_METHODS = ["CreateRecoveryChallenge", "RecoverAccount"].map((m) => `${AccountService.typeName}/${m}`);

const TOTP_STATES = { off: TotpState.OFF, pending: TotpState.PENDING, on: TotpState.ON } as const;
const optionalTimestamp = (date: Date | null): Timestamp | undefined => (date ? timestampFromDate(date) : undefined);

/** Thin mapping between AccountService messages and the account lifecycle use cases. */
export function accountService(ctx: AccountContext): ServiceImpl<typeof AccountService> {
  return {
    async getSecuritySettings(_req, context) {
      const settings = await getSecuritySettings(ctx, requireCaller(context));
      return {
        recoveryKeySet: settings.recoveryKeySetDate !== null,
        recoveryKeySetDate: optionalTimestamp(settings.recoveryKeySetDate),
        pinSet: settings.pinSetDate !== null,
        pinSetDate: optionalTimestamp(settings.pinSetDate),
        pinLockedUntil: optionalTimestamp(settings.pinLockedUntil),
        totpState: TOTP_STATES[settings.totp],
        totpEnabledDate: optionalTimestamp(settings.totpEnabledDate),
        totpLockedUntil: optionalTimestamp(settings.totpLockedUntil),
      };
    },
    async listSessions(_req, context) {
      const caller = requireCaller(context);
      const sessions = await listSessions(ctx, caller);
      return {
        sessions: sessions.map((s) => ({
          sessionId: s.sessionId,
          deviceId: s.deviceId,
          createdAt: timestampFromDate(s.createdAt),
          lastUsedDate: timestampFromDate(s.lastUsedDate),
          current: s.sessionId === caller.sessionId,
        })),
      };
    },
    async revokeSession(req, context) {
      await revokeSession(ctx, requireCaller(context), req.sessionId);
      return {};
    },
    async revokeOtherSessions(_req, context) {
      return { revoked: await revokeOtherSessions(ctx, requireCaller(context)) };
    },
    async setPin(req, context) {
      await setPin(ctx, requireCaller(context), req.pin, req.currentPin);
      return {};
    },
    async removePin(req, context) {
      await removePin(ctx, requireCaller(context), req.currentPin);
      return {};
    },
    async setRecoveryKey(req, context) {
      await setRecoveryKey(ctx, requireCaller(context), req.recoveryPublicKey, req.signature);
      return {};
    },
    async createRecoveryChallenge(req) {
      const challenge = await createRecoveryChallenge(ctx, req.cyphrId);
      return { nonce: challenge.nonce, expiresAt: timestampFromDate(challenge.expiresAt), deviceId: challenge.deviceId };
    },
    async recoverAccount(req) {
      const recovered = await recoverAccount(ctx, req);
      return { userId: recovered.userId, deviceId: recovered.deviceId, session: sessionMessage(recovered.session) };
    },
    async enableTotp(_req, context) {
      const { secret, uri } = await enableTotp(ctx, requireCaller(context));
      return { secret, otpauthUri: uri };
    },
    async confirmTotp(req, context) {
      await confirmTotp(ctx, requireCaller(context), req.code);
      return {};
    },
    async disableTotp(req, context) {
      await disableTotp(ctx, requireCaller(context), req.code);
      return {};
    },
    async createDeletionChallenge(_req, context) {
      const { nonce, expiresAt } = await createDeletionChallenge(ctx, requireCaller(context));
      return { nonce, expiresAt: timestampFromDate(expiresAt) };
    },
    async deleteAccount(req, context) {
      const { availableAt } = await deleteAccount(ctx, requireCaller(context), req.nonce, req.signature);
      return { cyphrIdAvailableAt: timestampFromDate(availableAt) };
    },
    async *exportAccountData(_req, context) {
      for await (const chunk of exportAccountData(ctx, requireCaller(context), context.signal)) yield { chunk };
    },
  };
}
