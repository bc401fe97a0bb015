import { verifySignature } from "../identity/keys.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { MAX_DEVICE_NAME_BYTES } from "./limits.js";
import { deviceCertificateBytes } from "./signed-bytes.js";

export interface CertifiedDevice {
  cyphrId: string;
  deviceId: number;
  deviceSigningKey: Uint8Array;
  identityPublicKey: Uint8Array;
}

/** Checks that `certificate` is the identity key's signature over the device's certificate bytes. */
export function requireDeviceCertificate(field: string, certificate: Uint8Array, device: CertifiedDevice): void {
  const signed = deviceCertificateBytes(device.cyphrId, device.deviceId, device.deviceSigningKey);
  if (!verifySignature(certificate, signed, device.identityPublicKey)) {
    throw new InvalidArgumentError(
      `${field} does not verify: it must be the identity key's Ed25519 signature over ` +
        `"cyphr-device-v1" ‖ 0x00 ‖ cyphr_id ‖ 0x00 ‖ device_id ${device.deviceId} (u32 BE) ‖ device signing key`,
    );
  }
}

export function assertDeviceName(field: string, name: Uint8Array): void {
  if (name.length > MAX_DEVICE_NAME_BYTES) {
    throw new InvalidArgumentError(`${field} must be at most ${MAX_DEVICE_NAME_BYTES} bytes, got ${name.length}`);
  }
}

/** A device id from the wire: a positive integer that fits the u32 of the signed bytes. */
export function assertDeviceId(field: string, deviceId: number): void {
  if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > 0x7fff_ffff) {
    throw new InvalidArgumentError(`${field} must be between 1 and 2147483647, got ${deviceId}`);
  }
}
