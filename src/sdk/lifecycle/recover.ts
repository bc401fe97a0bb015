import { createClient } from "@connectrpc/connect";
import { ed25519 } from "@noble/curves/ed25519.js";
import { recoverSignedBytes } from "../../account/signed-bytes.js";
import { AccountService } from "../../gen/cyphr/account/v1/account_pb.js";
import { IdentityService } from "../../gen/cyphr/identity/v1/identity_pb.js";
import { Account, type AccountOptions } from "../account.js";
import { encryptDeviceName } from "../device-names.js";
import { CyphrError, call } from "../errors.js";
import { type AccountKeys, certifyDevice, newDeviceKeys, newIdentityKeys, saveAccountKeys, saveDeviceKeys } from "../keys.js";
import { SessionKeeper } from "../session.js";
import { recoveryKeyFromPhrase } from "./recovery-phrase.js";

/**
 * Recovers an account whose devices are all lost, on this (empty) profile: new identity
 * and ML-KEM keys and a new device, authorised by the recovery phrase (and the PIN when
 * one is set). The server removes every old device and session and tells the account's
 * chat peers that its identity key changed; chats and memberships stay. Returns the
 * signed-in Account.
 */
export async function recoverAccount(
  options: AccountOptions,
  cyphrId: string,
  phrase: string,
  extra: { pin?: string; deviceName?: string } = {},
): Promise<Account> {
  if ((await options.store.get("account/keys")) !== undefined) {
    throw new CyphrError("already_exists", "This profile already holds an account: recover into an empty profile folder.");
  }
  const recovery = recoveryKeyFromPhrase(phrase);
  const api = createClient(AccountService, options.transport);
  const { nonce, deviceId } = await call(() => api.createRecoveryChallenge({ cyphrId }));
  const keys: AccountKeys = { ...newIdentityKeys(), cyphrId, userId: "" };
  const device = newDeviceKeys(deviceId);
  const deviceCertificate = certifyDevice(keys, deviceId, device.signingPublicKey);
  const claim = {
    cyphrId,
    nonce,
    identityPublicKey: keys.identityPublicKey,
    mlKemPublicKey: keys.mlKemPublicKey,
    deviceFingerprint: device.fingerprint,
    deviceId,
    deviceSigningKey: device.signingPublicKey,
    deviceCertificate,
  };
  const res = await call(() =>
    api.recoverAccount({
      ...claim,
      deviceEncryptedName: encryptDeviceName(keys, deviceId, extra.deviceName ?? ""),
      signature: ed25519.sign(recoverSignedBytes(claim), recovery.secretKey),
      pin: extra.pin ?? "",
    }),
  );
  await saveAccountKeys(options.store, { ...keys, userId: res.userId });
  await saveDeviceKeys(options.store, device);
  const identity = createClient(IdentityService, options.transport);
  await new SessionKeeper(options.store, (refreshToken) => call(async () => (await identity.refreshSession({ refreshToken })).session!), options).save(
    res.session,
  );
  return Account.open(options);
}
