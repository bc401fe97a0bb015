import { type CiphersuiteImpl, type CiphersuiteName, ciphersuites, getCiphersuiteFromName, getCiphersuiteImpl } from "ts-mls";

/**
 * MLS ciphersuites Cyphr can accept. Both sign with Ed25519, the algorithm of device
 * signing keys (a leaf's signature key must be its device's certified key), and encrypt
 * with ChaCha20-Poly1305; they differ in the KEM: ML-KEM-1024 (post-quantum) or X-Wing
 * (X25519 + ML-KEM-768 hybrid). Which of them a server accepts is configuration
 * (MLS_CIPHERSUITES); the first accepted one is the default a client should use.
 */
export const SUPPORTED_CIPHERSUITES = [
  "MLS_256_MLKEM1024_CHACHA20POLY1305_SHA512_Ed25519",
  "MLS_256_XWING_CHACHA20POLY1305_SHA512_Ed25519",
] as const satisfies readonly CiphersuiteName[];

export type SupportedCiphersuite = (typeof SUPPORTED_CIPHERSUITES)[number];

/** RFC 9420 code points of the supported suites (ts-mls's registry). */
export function ciphersuiteId(name: SupportedCiphersuite): number {
  return ciphersuites[name];
}

export function isSupportedCiphersuite(name: string): name is SupportedCiphersuite {
  return (SUPPORTED_CIPHERSUITES as readonly string[]).includes(name);
}

/** The supported suite with this code point, if any. */
export function ciphersuiteById(id: number): SupportedCiphersuite | undefined {
  return SUPPORTED_CIPHERSUITES.find((name) => ciphersuiteId(name) === id);
}

const impls = new Map<CiphersuiteName, Promise<CiphersuiteImpl>>();

/**
 * The suite's primitives, made once per suite. The server uses only the hash (key package
 * references) and signature verification; it never generates or holds MLS keys. Clients
 * (the SDK) use the same cache for their key generation and encryption.
 */
export function ciphersuiteImpl(name: CiphersuiteName): Promise<CiphersuiteImpl> {
  let impl = impls.get(name);
  if (!impl) {
    impl = getCiphersuiteImpl(getCiphersuiteFromName(name));
    impls.set(name, impl);
  }
  return impl;
}
