/**
 * Safety numbers: what two users compare (read aloud, or side by side) to know that each has the
 * other's real identity key and no one sits in between. 60 digits, the same on both sides, built
 * like Signal's numeric fingerprint: for each account, SHA-512 over (version ‖ identity key ‖ cyphr
 * id) and then ITERATIONS times over (hash ‖ identity key); its first 30 bytes are six 5-byte
 * big-endian numbers, each taken mod 100,000 as 5 digits. The two accounts' 30 digits are ordered by
 * cyphr id. A new identity key (an account recovered with its recovery phrase) changes the number.
 */
import { sha512 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8 } from "./bytes.js";

const VERSION = new Uint8Array([0, 0]);
const ITERATIONS = 5200;

export interface IdentityOf {
  cyphrId: string;
  /** The account's Ed25519 identity public key (32 bytes). */
  identityKey: Uint8Array;
}

/** The safety number of two accounts, as 12 groups of 5 digits separated by spaces. */
export function safetyNumber(a: IdentityOf, b: IdentityOf): string {
  const [first, second] = a.cyphrId < b.cyphrId ? [a, b] : [b, a];
  return (digitsOf(first) + digitsOf(second)).replace(/(\d{5})(?=\d)/g, "$1 ");
}

function digitsOf(who: IdentityOf): string {
  let hash = sha512(concatBytes(VERSION, who.identityKey, utf8(who.cyphrId)));
  for (let i = 0; i < ITERATIONS; i++) hash = sha512(concatBytes(hash, who.identityKey));
  let digits = "";
  for (let chunk = 0; chunk < 6; chunk++) {
    let n = 0;
    for (let i = 0; i < 5; i++) n = n * 256 + hash[chunk * 5 + i]!;
    digits += String(n % 100_000).padStart(5, "0");
  }
  return digits;
}
