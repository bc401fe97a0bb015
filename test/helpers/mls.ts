import { ed25519 } from "@noble/curves/ed25519.js";
import {
  type CiphersuiteName,
  defaultCapabilities,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  type KeyPackage,
  type Lifetime,
  type PrivateKeyPackage,
} from "ts-mls";
import { deviceCredentialIdentity } from "../../src/mls/credential.js";
import { suiteImpl } from "../../src/sdk/mls/codec.js";

export { DEFAULT_SUITE, suiteImpl } from "../../src/sdk/mls/codec.js";

/** What a device's MLS client holds for one key package: the public part it uploads and its private keys. */
export interface DeviceKeyPackage {
  publicPackage: KeyPackage;
  privatePackage: PrivateKeyPackage;
  /** The KeyPackage as an MLSMessage, as uploaded. */
  bytes: Uint8Array;
}

export interface KeyPackageOptions {
  cyphrId: string;
  deviceId: number;
  /** The device's Ed25519 signing secret key (its public key is the certified one). */
  signingSecretKey: Uint8Array;
  suite?: CiphersuiteName;
  lifetime?: Lifetime;
  /** Credential identity to put in the leaf instead of this device's. */
  identity?: Uint8Array;
}

/** A key package generated the way a Cyphr client must: basic credential of the device, signed by its device key. */
export async function deviceKeyPackage(options: KeyPackageOptions): Promise<DeviceKeyPackage> {
  const impl = await suiteImpl(options.suite);
  const identity = options.identity ?? deviceCredentialIdentity(options.cyphrId, options.deviceId);
  const lifetime = options.lifetime ?? { notBefore: nowSeconds() - 60n, notAfter: nowSeconds() + 90n * 86_400n };
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    { credentialType: "basic", identity },
    defaultCapabilities(),
    lifetime,
    [],
    { signKey: options.signingSecretKey, publicKey: ed25519.getPublicKey(options.signingSecretKey) },
    impl,
  );
  return { publicPackage, privatePackage, bytes: keyPackageBytes(publicPackage) };
}

export function keyPackageBytes(keyPackage: KeyPackage): Uint8Array {
  return encodeMlsMessage({ keyPackage, wireformat: "mls_key_package", version: "mls10" });
}

export function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}
