import { equalBytes } from "@noble/curves/utils.js";
import type { KeyPackage } from "ts-mls";
import { makeKeyPackageRef, verifyKeyPackage } from "ts-mls/keyPackage.js";
import { verifyLeafNodeSignatureKeyPackage } from "ts-mls/leafNode.js";
import { parseDeviceCredentialIdentity } from "./credential.js";
import { decodeWholeMlsMessage } from "./decode.js";
import { ciphersuiteImpl, isSupportedCiphersuite, type SupportedCiphersuite } from "./suites.js";

/** Largest KeyPackage accepted, in bytes (one with ML-KEM-1024 keys is ~3.4 KB). */
export const MAX_KEY_PACKAGE_BYTES = 16_384;

/** Clock skew tolerated on a key package's not_before, in seconds. */
const NOT_BEFORE_SKEW_SECONDS = 3_600n;

export interface KeyPackageOwner {
  cyphrId: string;
  deviceId: number;
  /** The device's certified Ed25519 signing key: the leaf must sign with it. */
  signingKey: Uint8Array;
}

export interface CheckedKeyPackage {
  /** KeyPackageRef (RFC 9420 §5.2): what a Welcome names its new members by. */
  ref: Uint8Array;
  ciphersuite: SupportedCiphersuite;
  /** End of the package's lifetime, seconds since the Unix epoch. */
  notAfter: bigint;
}

/** Why a key package was refused; the message is shown to the client. */
export class KeyPackageRejection extends Error {}

/**
 * Checks one uploaded key package as the delivery service must before it hands it out
 * (RFC 9420 §10.1): an MLSMessage holding a KeyPackage of version mls10, in an accepted
 * ciphersuite, whose leaf node comes from a key package, carries the basic credential of
 * exactly this device, signs with the device's certified key, has valid signatures on the
 * leaf node and on the package, distinct init and encryption keys, capabilities that
 * include its own version, suite and credential type, and a lifetime that covers now.
 */
export async function checkKeyPackage(
  bytes: Uint8Array,
  owner: KeyPackageOwner,
  accepted: readonly SupportedCiphersuite[],
  nowSeconds: bigint,
): Promise<CheckedKeyPackage> {
  if (bytes.length > MAX_KEY_PACKAGE_BYTES) throw new KeyPackageRejection(`is larger than ${MAX_KEY_PACKAGE_BYTES} bytes`);
  const message = decodeWholeMlsMessage(bytes);
  if (!message) throw new KeyPackageRejection("is not an MLS message of version mls10");
  if (message.wireformat !== "mls_key_package") throw new KeyPackageRejection(`is not a KeyPackage (wire format ${message.wireformat})`);
  const kp: KeyPackage = message.keyPackage;
  if (kp.version !== "mls10") throw new KeyPackageRejection("has an unsupported protocol version");
  const suite = kp.cipherSuite;
  if (!isSupportedCiphersuite(suite) || !accepted.includes(suite)) {
    throw new KeyPackageRejection(`uses ciphersuite ${String(suite)}, which this server does not accept (accepted: ${accepted.join(", ")})`);
  }
  const leaf = kp.leafNode;
  if (leaf.leafNodeSource !== "key_package") throw new KeyPackageRejection("has a leaf node that does not come from a key package");
  checkCredential(leaf.credential, owner);
  if (!equalBytes(leaf.signaturePublicKey, owner.signingKey)) {
    throw new KeyPackageRejection("is not signed with this device's certified signing key");
  }
  if (equalBytes(kp.initKey, leaf.hpkePublicKey)) throw new KeyPackageRejection("uses the same key as init key and encryption key");
  const caps = leaf.capabilities;
  if (!caps.versions.includes("mls10") || !caps.ciphersuites.includes(suite) || !caps.credentials.includes("basic")) {
    throw new KeyPackageRejection("has capabilities that do not list its own version, ciphersuite and the basic credential");
  }
  const { notBefore, notAfter } = leaf.lifetime;
  if (notAfter < nowSeconds) throw new KeyPackageRejection("has expired (lifetime not_after is in the past)");
  if (notBefore > nowSeconds + NOT_BEFORE_SKEW_SECONDS) throw new KeyPackageRejection("is not valid yet (lifetime not_before is in the future)");
  const impl = await ciphersuiteImpl(suite);
  const signed = (await verifyLeafNodeSignatureKeyPackage(leaf, impl.signature)) && (await verifyKeyPackage(kp, impl.signature));
  if (!signed) throw new KeyPackageRejection("has a bad signature");
  return { ref: await makeKeyPackageRef(kp, impl.hash), ciphersuite: suite, notAfter };
}

function checkCredential(credential: KeyPackage["leafNode"]["credential"], owner: KeyPackageOwner): void {
  if (credential.credentialType !== "basic") throw new KeyPackageRejection("does not carry a basic credential");
  const named = parseDeviceCredentialIdentity(credential.identity);
  if (!named || named.cyphrId !== owner.cyphrId || named.deviceId !== owner.deviceId) {
    throw new KeyPackageRejection(`has a credential that does not name this device (${owner.cyphrId}, device ${owner.deviceId})`);
  }
}
