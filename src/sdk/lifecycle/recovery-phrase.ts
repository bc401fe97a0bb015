import { ed25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { generateMnemonic, mnemonicToSeedSync, validateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { CyphrError } from "../errors.js";

/** 256 bits of entropy: 24 BIP-39 words. */
const PHRASE_STRENGTH_BITS = 256;
const KEY_INFO = new TextEncoder().encode("cyphr-recovery-key-v1");

/** A new recovery phrase (24 English BIP-39 words): show it once, never send or store it. */
export function newRecoveryPhrase(): string {
  return generateMnemonic(wordlist, PHRASE_STRENGTH_BITS);
}

/** The phrase as typed, in BIP-39's form: lower case, single spaces. */
function normalize(phrase: string): string {
  return phrase.normalize("NFKD").trim().toLowerCase().split(/\s+/).join(" ");
}

/**
 * The Ed25519 recovery key of a phrase: the BIP-39 seed (PBKDF2-HMAC-SHA512, 2048 rounds,
 * no passphrase) through HKDF-SHA256 with info "cyphr-recovery-key-v1" to a 32-byte
 * secret key. The same phrase always gives the same key, on any device.
 */
export function recoveryKeyFromPhrase(phrase: string): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const words = normalize(phrase);
  if (words.split(" ").length !== 24 || !validateMnemonic(words, wordlist)) {
    throw new CyphrError(
      "invalid_argument",
      "That is not a valid recovery phrase: it has 24 English words from the BIP-39 list; check each word and their order.",
    );
  }
  const secretKey = hkdf(sha256, mnemonicToSeedSync(words), undefined, KEY_INFO, 32);
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}
