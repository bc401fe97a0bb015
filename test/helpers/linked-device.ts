import { randomBytes } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { DevicesService } from "../../src/gen/cyphr/devices/v1/devices_pb.js";
import { clientFor, identityClient } from "./clients.js";
import { deviceCertificate, loginRequest, type Device, type RegisteredUser } from "./users.js";

/**
 * Links a new device to `user`'s account the way a client does (BeginDeviceLink on the new
 * device, ApproveDeviceLink on the existing one with the certificate for the next id), then
 * signs it in. The new device shares the account's identity key pair (as after a
 * provisioning blob carried it over) and has its own signing key.
 */
export async function linkDevice(baseUrl: string, user: RegisteredUser): Promise<RegisteredUser> {
  const deviceSecretKey = ed25519.utils.randomSecretKey();
  const deviceSigningKey = ed25519.getPublicKey(deviceSecretKey);
  const anonymous = clientFor(DevicesService, "connect", baseUrl);
  const existing = clientFor(DevicesService, "connect", baseUrl, { token: user.accessToken });
  const link = await anonymous.beginDeviceLink({ deviceSigningKey, deviceFingerprint: new Uint8Array(randomBytes(32)) });
  const { nextDeviceId } = await existing.listDevices({ cyphrId: user.cyphrId });
  await existing.approveDeviceLink({
    linkId: link.linkId,
    linkSecret: link.linkSecret,
    deviceId: nextDeviceId,
    certificate: deviceCertificate(user.device, user.cyphrId, nextDeviceId, deviceSigningKey),
    provisioningBlob: new Uint8Array(randomBytes(64)),
    encryptedName: new Uint8Array(0),
  });
  // The new device collects its approval, which also ends the pending link.
  for await (const res of anonymous.waitDeviceLink({ linkId: link.linkId, linkSecret: link.linkSecret })) {
    if (res.state.case === "approved") break;
  }
  const device: Device = { ...user.device, deviceSecretKey, deviceSigningKey, deviceId: nextDeviceId };
  const identity = identityClient("connect", baseUrl);
  const { nonce } = await identity.createChallenge({ cyphrId: user.cyphrId });
  const res = await identity.login(loginRequest(device, user.cyphrId, nonce));
  return {
    cyphrId: user.cyphrId,
    device,
    userId: res.userId,
    accessToken: res.session!.accessToken,
    refreshToken: res.session!.refreshToken,
    sessionId: res.session!.sessionId,
  };
}
