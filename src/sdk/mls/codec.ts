/**
 * MLS wire and storage encodings the SDK's MLS engine shares: the suite implementation,
 * MLSMessage bytes in and out, and the small byte/JSON helpers its Store records use.
 * Nothing here touches the network or the Store.
 */
import {
  type CiphersuiteImpl,
  type CiphersuiteName,
  decodeMlsMessage,
  encodeMlsMessage,
  type GroupInfo,
  type KeyPackage,
  type MLSMessage,
  type PrivateMessage,
  type PublicMessage,
  type Welcome,
} from "ts-mls";
import { ciphersuiteImpl, SUPPORTED_CIPHERSUITES } from "../../mls/suites.js";

/** The suite the SDK asks for when a chat is created with ciphersuite 0 (the server's default, 82). */
export const DEFAULT_SUITE = SUPPORTED_CIPHERSUITES[0];

/** A suite's implementation, from the one per-process cache (src/mls/suites.ts). */
export function suiteImpl(name: CiphersuiteName = DEFAULT_SUITE): Promise<CiphersuiteImpl> {
  return ciphersuiteImpl(name);
}

export function decodeMessage(bytes: Uint8Array): MLSMessage | undefined {
  try {
    return decodeMlsMessage(bytes, 0)?.[0];
  } catch {
    return undefined;
  }
}

export const wire = {
  keyPackage: (keyPackage: KeyPackage) => encodeMlsMessage({ keyPackage, wireformat: "mls_key_package", version: "mls10" }),
  welcome: (welcome: Welcome) => encodeMlsMessage({ welcome, wireformat: "mls_welcome", version: "mls10" }),
  groupInfo: (groupInfo: GroupInfo) => encodeMlsMessage({ groupInfo, wireformat: "mls_group_info", version: "mls10" }),
  publicMessage: (publicMessage: PublicMessage) => encodeMlsMessage({ publicMessage, wireformat: "mls_public_message", version: "mls10" }),
  privateMessage: (privateMessage: PrivateMessage) => encodeMlsMessage({ privateMessage, wireformat: "mls_private_message", version: "mls10" }),
};

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const utf8 = new TextEncoder();
const unutf8 = new TextDecoder();

/** JSON records in the Store: bigints as {"$n": "…"}, bytes as {"$b": "hex"}. */
export function encodeRecord(value: unknown): Uint8Array {
  return utf8.encode(
    JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === "bigint") return { $n: v.toString() };
      if (v instanceof Uint8Array) return { $b: toHex(v) };
      return v;
    }),
  );
}

export function decodeRecord<T>(bytes: Uint8Array): T {
  return JSON.parse(unutf8.decode(bytes), (_k, v: unknown) => {
    if (v && typeof v === "object" && "$n" in v) return BigInt((v as { $n: string }).$n);
    if (v && typeof v === "object" && "$b" in v) return fromHex((v as { $b: string }).$b);
    return v;
  }) as T;
}
