import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { type CryptoKey, calculateJwkThumbprint, exportJWK, importPKCS8, importSPKI } from "jose";
import { readOrCreateFile, readOrCreateSecret } from "../shared/secret-files.js";

/** Keys the identity domain signs and verifies with. Never logged, never sent. */
export interface ServerKeys {
  signing: { kid: string; privateKey: CryptoKey };
  /** kid -> public key: the signing key plus any still-trusted previous keys. */
  verifying: Map<string, CryptoKey>;
  /** Key for HMAC-SHA-256 of device fingerprints. */
  fingerprintSecret: Buffer;
}

export interface ServerKeySources {
  dataDir: string;
  jwtPrivateKeyFile: string | undefined;
  jwtExtraPublicKeyFiles: string[];
  fingerprintSecretFile: string | undefined;
}

/**
 * Loads the JWT signing key (PKCS#8 PEM, Ed25519) and the fingerprint secret from the
 * configured files or, when none are configured, from files generated once in the data
 * folder. Instances sharing a database must share these files.
 */
export async function loadServerKeys(sources: ServerKeySources): Promise<ServerKeys> {
  await fs.mkdir(sources.dataDir, { recursive: true, mode: 0o711 });
  const signingPem = sources.jwtPrivateKeyFile
    ? await readFileNamed(sources.jwtPrivateKeyFile, "JWT_PRIVATE_KEY_FILE")
    : await readOrCreateFile(path.join(sources.dataDir, "jwt-ed25519.pem"), newSigningKeyPem);
  const privateKey = await importPKCS8(signingPem, "EdDSA").catch(() => {
    throw new Error("the JWT signing key must be an Ed25519 private key in PKCS#8 PEM form");
  });
  const publicPem = createPublicKey(createPrivateKey(signingPem)).export({ type: "spki", format: "pem" }).toString();
  const verifying = new Map<string, CryptoKey>();
  const kid = await addVerifyingKey(verifying, publicPem);
  for (const file of sources.jwtExtraPublicKeyFiles) {
    await addVerifyingKey(verifying, await readFileNamed(file, "JWT_EXTRA_PUBLIC_KEY_FILES"));
  }

  const secretText = sources.fingerprintSecretFile
    ? await readFileNamed(sources.fingerprintSecretFile, "FINGERPRINT_SECRET_FILE")
    : await readOrCreateSecret(path.join(sources.dataDir, "fingerprint-secret"));
  const fingerprintSecret = Buffer.from(secretText.trim(), "utf8");
  if (fingerprintSecret.length < 32) throw new Error("the fingerprint secret must be at least 32 bytes");

  return { signing: { kid, privateKey }, verifying, fingerprintSecret };
}

async function addVerifyingKey(keys: Map<string, CryptoKey>, spkiPem: string): Promise<string> {
  const key = await importSPKI(spkiPem, "EdDSA", { extractable: true }).catch(() => {
    throw new Error("JWT public keys must be Ed25519 keys in SPKI PEM form");
  });
  const kid = await calculateJwkThumbprint(await exportJWK(key));
  keys.set(kid, key);
  return kid;
}

function newSigningKeyPem(): string {
  return generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

async function readFileNamed(file: string, setting: string): Promise<string> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    throw new Error(`${setting}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}
