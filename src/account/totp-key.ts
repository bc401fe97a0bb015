import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { readOrCreateSecret } from "../shared/secret-files.js";

/**
 * The server key that seals TOTP secrets at rest: 64 hex characters (32 bytes) in
 * TOTP_KEY_FILE, or generated once in the data folder as totp-key. Instances sharing a
 * database must share it. Never logged, never sent.
 */
export async function loadTotpKey(dataDir: string, keyFile: string | undefined): Promise<Buffer> {
  let text: string;
  if (keyFile) {
    try {
      text = await fs.readFile(keyFile, "utf8");
    } catch (error) {
      throw new Error(`TOTP_KEY_FILE: cannot read ${keyFile} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
  } else {
    await fs.mkdir(dataDir, { recursive: true, mode: 0o711 });
    text = await readOrCreateSecret(path.join(dataDir, "totp-key"));
  }
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error("the TOTP key must be 64 hexadecimal characters (32 bytes)");
  return Buffer.from(hex, "hex");
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM, bound to the account by the AAD: nonce ‖ ciphertext ‖ tag. */
export function sealTotpSecret(key: Buffer, userId: string, secret: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(userId, "utf8"));
  const body = Buffer.concat([cipher.update(secret), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** The secret, or an Error when the sealed bytes were not made with this key for this account. */
export function openTotpSecret(key: Buffer, userId: string, sealed: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, NONCE_BYTES));
  decipher.setAAD(Buffer.from(userId, "utf8"));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
}
