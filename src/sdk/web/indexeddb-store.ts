/**
 * The browser's Store: one IndexedDB database per profile, encrypted with a passphrase the way the
 * Node FileStore is (docs/sdk.md, "The store"), with scrypt in place of argon2id (no argon2id
 * implementation in our dependencies runs at a usable speed in a page; @noble/hashes' scrypt does,
 * in a few hundred milliseconds at N = 2^17, r = 8, p = 1: 128 MiB, the OWASP recommendation).
 *
 * - Object store `meta`, key "profile": scrypt salt (16 bytes) and parameters, a check value (a
 *   constant sealed with the value key: a wrong passphrase fails there), and a label the app shows
 *   in its profile list (the Cyphr ID: public anyway).
 * - scrypt(passphrase) → 32 bytes; HKDF-SHA256 splits it into a value key and a name key.
 * - Object store `entries`: keyed by hex(HMAC-SHA256(name key, entry name)), so the keys reveal
 *   nothing; each record holds the entry name and the value, each sealed with XChaCha20-Poly1305
 *   (random 24-byte nonce; the value's associated data is the entry name, so swapped records fail).
 * Entry names are decrypted once when the profile opens (for keys(prefix)); values on every get.
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, fromUtf8, randomBytes, toHex, utf8 } from "../bytes.js";
import { CyphrError } from "../errors.js";
import type { Store } from "../store.js";
import { type Db, deleteDatabase, listDatabases, openDatabase, request } from "./idb.js";

/** scrypt cost: N (a power of two), r, p. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** 128 MiB of memory: N = 2^17, r = 8, p = 1. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
/** What a stored profile may ask for, so a tampered record cannot demand gigabytes or hours. */
const N_BOUNDS = [2 ** 14, 2 ** 20] as const;
const NONCE = 24;
const CHECK_TEXT = utf8("cyphr-indexeddb-store-check-v1");
const NAME_AD = utf8("cyphr-store-name");
/** Databases of this store are named PREFIX + profile id. */
const PREFIX = "cyphr-profile-";

interface Meta {
  version: 1;
  kdf: { algorithm: "scrypt"; salt: Uint8Array } & ScryptParams;
  check: Uint8Array;
  label: string;
}

interface EntryRecord {
  name: Uint8Array;
  value: Uint8Array;
}

export class IndexedDbStore implements Store {
  private constructor(
    readonly profile: string,
    private readonly db: Db,
    private readonly valueKey: Uint8Array,
    private readonly nameKey: Uint8Array,
    private readonly names: Set<string>,
    private meta: Meta,
  ) {}

  /** The profiles in this browser: id and label, no passphrase needed. */
  static async profiles(): Promise<{ profile: string; label: string }[]> {
    const out: { profile: string; label: string }[] = [];
    for (const name of await listDatabases()) {
      if (!name.startsWith(PREFIX)) continue;
      const db = await openDatabase(name);
      try {
        const meta = (await request(db.transaction("meta").objectStore("meta").get("profile"))) as Meta | undefined;
        if (meta) out.push({ profile: name.slice(PREFIX.length), label: meta.label });
      } finally {
        db.close();
      }
    }
    return out;
  }

  /** Opens a profile, creating it (with `kdf`) when this browser has none of that id. */
  static async open(profile: string, passphrase: string, options: { kdf?: ScryptParams; label?: string } = {}): Promise<IndexedDbStore> {
    if (passphrase.length === 0) throw new CyphrError("invalid_argument", "The passphrase is empty: choose a passphrase.");
    if (!/^[\w-]{1,64}$/.test(profile)) throw new CyphrError("invalid_argument", "A profile id is 1 to 64 letters, digits, '_' or '-'.");
    const db = await openDatabase(PREFIX + profile);
    try {
      let meta = (await request(db.transaction("meta").objectStore("meta").get("profile"))) as Meta | undefined;
      const creating = meta === undefined;
      if (!meta)
        meta = {
          version: 1,
          kdf: { algorithm: "scrypt", salt: randomBytes(16), ...(options.kdf ?? DEFAULT_SCRYPT) },
          check: new Uint8Array(),
          label: options.label ?? "",
        };
      const kdf = requireKdf(meta);
      const master = await scryptAsync(utf8(passphrase), meta.kdf.salt, { ...kdf, dkLen: 32, maxmem: 2 ** 31 });
      const valueKey = hkdf(sha256, master, meta.kdf.salt, utf8("cyphr-indexeddb-store-values-v1"), 32);
      const nameKey = hkdf(sha256, master, meta.kdf.salt, utf8("cyphr-indexeddb-store-names-v1"), 32);
      if (creating) {
        meta.check = seal(valueKey, CHECK_TEXT, CHECK_TEXT);
        await request(db.transaction("meta", "readwrite").objectStore("meta").put(meta, "profile"));
      } else if (!opens(valueKey, meta.check, CHECK_TEXT)) {
        throw new CyphrError("unauthenticated", "Wrong passphrase for this profile: type it again.");
      }
      const records = (await request(db.transaction("entries").objectStore("entries").getAll())) as EntryRecord[];
      const names = new Set(records.map((r) => fromUtf8(open(valueKey, r.name, NAME_AD))));
      return new IndexedDbStore(profile, db, valueKey, nameKey, names, meta);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Deletes a profile and everything in it (its keys are gone for good). */
  static remove(profile: string): Promise<void> {
    return deleteDatabase(PREFIX + profile);
  }

  get label(): string {
    return this.meta.label;
  }

  /** Sets the label shown in the profile list (the Cyphr ID once known). */
  async setLabel(label: string): Promise<void> {
    this.meta = { ...this.meta, label };
    await request(this.db.transaction("meta", "readwrite").objectStore("meta").put(this.meta, "profile"));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const record = (await request(this.db.transaction("entries").objectStore("entries").get(this.idOf(key)))) as EntryRecord | undefined;
    if (!record) return undefined;
    if (fromUtf8(open(this.valueKey, record.name, NAME_AD)) !== key) throw damaged();
    return open(this.valueKey, record.value, utf8(key));
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    const record: EntryRecord = { name: seal(this.valueKey, utf8(key), NAME_AD), value: seal(this.valueKey, value, utf8(key)) };
    await request(this.db.transaction("entries", "readwrite").objectStore("entries").put(record, this.idOf(key)));
    this.names.add(key);
  }

  async delete(key: string): Promise<void> {
    await request(this.db.transaction("entries", "readwrite").objectStore("entries").delete(this.idOf(key)));
    this.names.delete(key);
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.names].filter((n) => n.startsWith(prefix));
  }

  close(): void {
    this.db.close();
  }

  private idOf(key: string): string {
    return toHex(hmac(sha256, this.nameKey, utf8(key)));
  }
}

function requireKdf(meta: Meta): ScryptParams {
  const { kdf } = meta;
  const ok =
    meta.version === 1 &&
    kdf?.algorithm === "scrypt" &&
    kdf.salt instanceof Uint8Array &&
    Number.isInteger(kdf.N) &&
    kdf.N >= N_BOUNDS[0] &&
    kdf.N <= N_BOUNDS[1] &&
    (kdf.N & (kdf.N - 1)) === 0 &&
    kdf.r >= 1 &&
    kdf.r <= 16 &&
    kdf.p >= 1 &&
    kdf.p <= 4;
  if (!ok) throw new CyphrError("data_loss", "This profile's stored settings are unreadable: remove the profile and link this browser again.");
  return { N: kdf.N, r: kdf.r, p: kdf.p };
}

function seal(key: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE);
  return concatBytes(nonce, xchacha20poly1305(key, nonce, associatedData).encrypt(plaintext));
}

function open(key: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array): Uint8Array {
  if (!(sealed instanceof Uint8Array) || sealed.length < NONCE + 16) throw damaged();
  try {
    return xchacha20poly1305(key, sealed.subarray(0, NONCE), associatedData).decrypt(sealed.subarray(NONCE));
  } catch {
    throw damaged();
  }
}

function opens(key: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array): boolean {
  try {
    open(key, sealed, associatedData);
    return true;
  } catch {
    return false;
  }
}

function damaged(): CyphrError {
  return new CyphrError("data_loss", "A record of this profile is damaged or was changed: remove the profile and link this browser again.");
}
