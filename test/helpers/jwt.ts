import { createPublicKey } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { type CryptoKey, calculateJwkThumbprint, importPKCS8, type JWK, SignJWT } from "jose";

/** The server's own JWT signing key, read from its data folder, and its kid. */
export interface SigningKey {
  privateKey: CryptoKey;
  kid: string;
  /** The raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

/** Reads `<dataDir>/jwt-ed25519.pem`; the kid is the RFC 7638 thumbprint of the public JWK, as the server derives it. */
export async function serverSigningKey(dataDir: string): Promise<SigningKey> {
  const pem = await fs.readFile(path.join(dataDir, "jwt-ed25519.pem"), "utf8");
  const privateKey = await importPKCS8(pem, "EdDSA");
  const publicJwk = createPublicKey(pem).export({ format: "jwk" }) as JWK;
  return {
    privateKey,
    kid: await calculateJwkThumbprint(publicJwk),
    publicKey: new Uint8Array(Buffer.from(publicJwk.x!, "base64url")),
  };
}

export interface AccessClaims {
  sub: string;
  cyphr_id: string;
  sid: string;
  /** Device id claim; default 1. Null leaves the claim out (a token from before devices). */
  did?: number | null;
  iss?: string;
  aud?: string;
  /** Seconds since the epoch. */
  iat?: number;
  exp?: number;
}

/** Signs an EdDSA access token the way the server does, with whatever claims the test needs. */
export async function signAccessToken(key: CryptoKey, kid: string, claims: AccessClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const did = claims.did === undefined ? 1 : claims.did;
  return new SignJWT({ cyphr_id: claims.cyphr_id, sid: claims.sid, ...(did !== null && { did }) })
    .setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid })
    .setIssuer(claims.iss ?? "cyphr")
    .setAudience(claims.aud ?? "cyphr")
    .setSubject(claims.sub)
    .setIssuedAt(claims.iat ?? now)
    .setExpirationTime(claims.exp ?? now + 900)
    .sign(key);
}

/** base64url of a JSON value, as in a JWT segment. */
export function jwtSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}
