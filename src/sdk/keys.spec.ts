import { describe, expect, it } from "vitest";
import { type AccountKeys, certifyDevice, newDeviceKeys, newIdentityKeys, verifyDeviceCertificate } from "./keys.js";

const account: AccountKeys = { ...newIdentityKeys(), cyphrId: "alice_1", userId: "u" };
const device = newDeviceKeys(2);
const certificate = certifyDevice(account, 2, device.signingPublicKey);

describe("device certificates (what listDevices and linking trust)", () => {
  it("verifies the identity key's certificate for exactly this account, device id and key", () => {
    const ok = { deviceId: 2, signingKey: device.signingPublicKey, certificate };
    expect(verifyDeviceCertificate("alice_1", account.identityPublicKey, ok)).toBe(true);
    expect(verifyDeviceCertificate("alice_2", account.identityPublicKey, ok)).toBe(false);
    expect(verifyDeviceCertificate("alice_1", account.identityPublicKey, { ...ok, deviceId: 3 })).toBe(false);
    expect(verifyDeviceCertificate("alice_1", account.identityPublicKey, { ...ok, signingKey: newDeviceKeys().signingPublicKey })).toBe(false);
    expect(verifyDeviceCertificate("alice_1", newIdentityKeys().identityPublicKey, ok)).toBe(false);
    expect(verifyDeviceCertificate("alice_1", account.identityPublicKey, { ...ok, certificate: new Uint8Array(3) })).toBe(false);
  });

  it("accepts an empty certificate only for a legacy device 1 whose key is the identity key", () => {
    const legacy = { deviceId: 1, signingKey: account.identityPublicKey, certificate: new Uint8Array(0) };
    expect(verifyDeviceCertificate("alice_1", account.identityPublicKey, legacy)).toBe(true);
    expect(verifyDeviceCertificate("alice_1", account.identityPublicKey, { ...legacy, deviceId: 2 })).toBe(false);
    expect(verifyDeviceCertificate("alice_1", account.identityPublicKey, { ...legacy, signingKey: device.signingPublicKey })).toBe(false);
  });
});
