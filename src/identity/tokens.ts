import { createHash, randomBytes } from "node:crypto";
import { SignJWT, jwtVerify, type JWTHeaderParameters } from "jose";
import { UnauthenticatedError } from "../shared/errors.js";
import type { ServerKeys } from "./server-keys.js";

/** Who is calling, as proven by a verified access token. */
export interface Caller {
  userId: string;
  cyphrId: string;
  sessionId: string;
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
}

export interface IssuedAccessToken {
  token: string;
  expiresAt: Date;
}

const INVALID_TOKEN = "invalid or expired access token";

/** Issues and verifies EdDSA (Ed25519) access tokens. */
export class AccessTokens {
  constructor(
    private readonly keys: ServerKeys,
    private readonly settings: TokenSettings,
  ) {}

  async issue(caller: Caller, now = new Date()): Promise<IssuedAccessToken> {
    const issuedAt = Math.floor(now.getTime() / 1000);
    const expiresAt = issuedAt + this.settings.accessTokenTtlSeconds;
    const token = await new SignJWT({ cyphr_id: caller.cyphrId, sid: caller.sessionId })
      .setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid: this.keys.signing.kid })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setSubject(caller.userId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.keys.signing.privateKey);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  /** Verifies signature, algorithm (EdDSA only), issuer, audience and expiry. */
  async verify(token: string): Promise<Caller> {
    try {
      const { payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        algorithms: ["EdDSA"],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        requiredClaims: ["exp", "sub", "sid", "cyphr_id"],
        clockTolerance: 5,
      });
      const { sub, sid, cyphr_id: cyphrId } = payload;
      if (typeof sub !== "string" || typeof sid !== "string" || typeof cyphrId !== "string") {
        throw new UnauthenticatedError(INVALID_TOKEN);
      }
      return { userId: sub, sessionId: sid, cyphrId };
    } catch {
      throw new UnauthenticatedError(INVALID_TOKEN);
    }
  }

  private keyFor(header: JWTHeaderParameters) {
    const key = header.kid === undefined ? undefined : this.keys.verifying.get(header.kid);
    if (!key) throw new UnauthenticatedError(INVALID_TOKEN);
    return key;
  }
}

/** A new refresh token (base64url of 32 random bytes) and the hash that is stored. */
export function newRefreshToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}
