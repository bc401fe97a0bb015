import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import argon2 from "argon2";
import { concatBytes, fromHex, fromUtf8, randomBytes, toHex, utf8 } from "../bytes.js";
import { CyphrError } from "../errors.js";
import type { Store } from "../store.js";

/** argon2id parameters, stored in the profile folder beside the salt. */
export interface KdfParams {
  /** KiB of memory (argon2 m). */
  memoryCost: number;
  /** Passes (argon2 t). */
  timeCost: number;
  /** Lanes (argon2 p). */
  parallelism: number;
}

/** The defaults for a new profile: 64 MiB, 3 passes, 1 lane. */
export const DEFAULT_KDF: KdfParams = { memoryCost: 65_536, timeCost: 3, parallelism: 1 };
/** Bounds accepted from a profile's stored parameters, so a tampered file cannot demand 100 GiB. */
const KDF_BOUNDS = { memoryCost: [8_192, 1_048_576], timeCost: [1, 20], parallelism: [1, 8] } as const;

const META_FILE = "profile.json";
const VALUE_SUFFIX = ".v";
const NONCE = 24;
const CHECK_TEXT = utf8("cyphr-file-store-check-v1");

interface Meta {
  version: 1;
  kdf: { algorithm: "argon2id"; salt: string } & KdfParams;
  /** The constant CHECK_TEXT sealed with the value key: a wrong passphrase fails here. */
  check: string;
}

/**
 * A Store in one profile folder, encrypted with a passphrase: argon2id (salt and parameters in
 * profile.json) gives a 32-byte key; HKDF splits it into a value key and a name key. Each entry
 * is one file named by HMAC-SHA256(name key, entry name), holding the entry name and its value,
 * each sealed with XChaCha20-Poly1305 (random 24-byte nonce; the value's associated data is the
 * entry name). Writes go to a temporary file that is renamed over the old one. Folder 0700, files 0600.
 */
export class FileStore implements Store {
  private constructor(
    readonly folder: string,
    private readonly valueKey: Uint8Array,
    private readonly nameKey: Uint8Array,
  ) {}

  /** Opens the profile at `folder`, creating it (with `kdf` parameters) when it does not exist. */
  static async open(folder: string, passphrase: string, options: { kdf?: KdfParams } = {}): Promise<FileStore> {
    if (passphrase.length === 0) throw new CyphrError("invalid_argument", "The profile passphrase is empty: choose a passphrase.");
    await fs.mkdir(folder, { recursive: true, mode: 0o700 });
    await fs.chmod(folder, 0o700);
    const meta = await readMeta(folder);
    if (meta === undefined) return FileStore.create(folder, passphrase, options.kdf ?? DEFAULT_KDF);
    const kdf = requireKdf(meta, folder);
    const keys = await deriveKeys(passphrase, fromHex(meta.kdf.salt), kdf);
    const store = new FileStore(folder, keys.valueKey, keys.nameKey);
    if (!store.opens(fromHex(meta.check), CHECK_TEXT)) {
      throw new CyphrError("unauthenticated", `Wrong passphrase for the profile at ${folder}: type it again (or set CYPHR_PASSPHRASE).`);
    }
    return store;
  }

  private static async create(folder: string, passphrase: string, kdf: KdfParams): Promise<FileStore> {
    const salt = randomBytes(16);
    const keys = await deriveKeys(passphrase, salt, kdf);
    const store = new FileStore(folder, keys.valueKey, keys.nameKey);
    const meta: Meta = {
      version: 1,
      kdf: { algorithm: "argon2id", salt: toHex(salt), ...kdf },
      check: toHex(store.seal(CHECK_TEXT, CHECK_TEXT)),
    };
    await writeAtomic(path.join(folder, META_FILE), utf8(JSON.stringify(meta, null, 2)));
    return store;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const file = await readIfExists(this.fileOf(key));
    if (file === undefined) return undefined;
    const entry = this.decodeEntry(file);
    if (entry.name !== key) throw this.damaged();
    return entry.value;
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    const sealedName = this.seal(utf8(key), utf8("cyphr-store-name"));
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, sealedName.length, false);
    await writeAtomic(this.fileOf(key), concatBytes(header, sealedName, this.seal(value, utf8(key))));
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.fileOf(key), { force: true });
  }

  async keys(prefix: string): Promise<string[]> {
    const names: string[] = [];
    for (const file of await fs.readdir(this.folder)) {
      if (!file.endsWith(VALUE_SUFFIX)) continue;
      const bytes = await readIfExists(path.join(this.folder, file));
      if (bytes === undefined) continue;
      const { name } = this.decodeEntry(bytes);
      if (name.startsWith(prefix)) names.push(name);
    }
    return names;
  }

  private fileOf(key: string): string {
    return path.join(this.folder, toHex(hmac(sha256, this.nameKey, utf8(key))) + VALUE_SUFFIX);
  }

  private decodeEntry(bytes: Uint8Array): { name: string; value: Uint8Array } {
    if (bytes.length < 4) throw this.damaged();
    const nameLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, false);
    const sealedName = bytes.subarray(4, 4 + nameLength);
    const nameBytes = this.open(sealedName, utf8("cyphr-store-name"));
    const name = fromUtf8(nameBytes);
    return { name, value: this.open(bytes.subarray(4 + nameLength), utf8(name)) };
  }

  private seal(plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE);
    return concatBytes(nonce, xchacha20poly1305(this.valueKey, nonce, associatedData).encrypt(plaintext));
  }

  private open(sealed: Uint8Array, associatedData: Uint8Array): Uint8Array {
    if (sealed.length < NONCE + 16) throw this.damaged();
    try {
      return xchacha20poly1305(this.valueKey, sealed.subarray(0, NONCE), associatedData).decrypt(sealed.subarray(NONCE));
    } catch {
      throw this.damaged();
    }
  }

  private opens(sealed: Uint8Array, associatedData: Uint8Array): boolean {
    try {
      this.open(sealed, associatedData);
      return true;
    } catch {
      return false;
    }
  }

  private damaged(): CyphrError {
    return new CyphrError("data_loss", `A file in the profile at ${this.folder} is damaged or was changed: restore the folder from a backup.`);
  }
}

async function deriveKeys(passphrase: string, salt: Uint8Array, kdf: KdfParams): Promise<{ valueKey: Uint8Array; nameKey: Uint8Array }> {
  const master = new Uint8Array(await argon2.hash(passphrase, { type: argon2.argon2id, raw: true, salt: Buffer.from(salt), hashLength: 32, ...kdf }));
  return {
    valueKey: hkdf(sha256, master, salt, utf8("cyphr-file-store-values-v1"), 32),
    nameKey: hkdf(sha256, master, salt, utf8("cyphr-file-store-names-v1"), 32),
  };
}

function requireKdf(meta: Meta, folder: string): KdfParams {
  const kdf = meta.kdf;
  const within = (n: unknown, [lo, hi]: readonly [number, number]) => Number.isInteger(n) && (n as number) >= lo && (n as number) <= hi;
  if (
    meta.version !== 1 ||
    kdf?.algorithm !== "argon2id" ||
    !within(kdf.memoryCost, KDF_BOUNDS.memoryCost) ||
    !within(kdf.timeCost, KDF_BOUNDS.timeCost) ||
    !within(kdf.parallelism, KDF_BOUNDS.parallelism) ||
    typeof kdf.salt !== "string" ||
    typeof meta.check !== "string"
  ) {
    throw new CyphrError("data_loss", `The profile at ${folder} has an unreadable ${META_FILE}: restore the folder from a backup.`);
  }
  return { memoryCost: kdf.memoryCost, timeCost: kdf.timeCost, parallelism: kdf.parallelism };
}

async function readMeta(folder: string): Promise<Meta | undefined> {
  const bytes = await readIfExists(path.join(folder, META_FILE));
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(fromUtf8(bytes)) as Meta;
  } catch {
    throw new CyphrError("data_loss", `The profile at ${folder} has an unreadable ${META_FILE}: restore the folder from a backup.`);
  }
}

async function readIfExists(file: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Temporary file (0600, flushed) renamed over the target: a reader sees the old or the new value, never half. */
async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const temp = `${file}.${toHex(randomBytes(6))}.tmp`;
  const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
}
