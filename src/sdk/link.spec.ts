import { describe, expect, it } from "vitest";
import { randomBytes } from "./bytes.js";
import { CyphrError } from "./errors.js";
import { type AccountKeys, newIdentityKeys } from "./keys.js";
import { decodeLinkPayload, encodeLinkPayload, type LinkPayload, newProvisioningSecret, openProvisioning, sealProvisioning } from "./link.js";

const payload: LinkPayload = {
  linkId: "0f8fad5b-d9cb-469f-a165-70867728950e",
  linkSecret: randomBytes(32),
  deviceSigningKey: randomBytes(32),
  provisioningSecret: newProvisioningSecret(),
};
const account: AccountKeys = { ...newIdentityKeys(), cyphrId: "alice_1", userId: "u-1" };

describe("device-link code and provisioning blob", () => {
  it("round-trips the code the new device shows", () => {
    expect(decodeLinkPayload(encodeLinkPayload(payload))).toEqual(payload);
    expect(decodeLinkPayload(` ${encodeLinkPayload(payload)}\n`)).toEqual(payload);
  });

  it("refuses anything that is not a whole code with invalid_argument", () => {
    const code = encodeLinkPayload(payload);
    for (const bad of ["", "hello", code.slice(0, -2), code.replace("cyphr-link-v1", "cyphr-link-v2"), `${code}.00`]) {
      expect(() => decodeLinkPayload(bad)).toThrow(CyphrError);
    }
  });

  it("seals the account keys so that only the holder of the provisioning secret opens them", () => {
    const blob = sealProvisioning(payload, account);
    expect(openProvisioning(payload, blob)).toEqual(account);
    const wrongSecret = { ...payload, provisioningSecret: newProvisioningSecret() };
    expect(() => openProvisioning(wrongSecret, blob)).toThrow(expect.objectContaining({ code: "data_loss" }));
    const otherDevice = { ...payload, deviceSigningKey: randomBytes(32) };
    expect(() => openProvisioning(otherDevice, blob)).toThrow(expect.objectContaining({ code: "data_loss" }));
  });
});
