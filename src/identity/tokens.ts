import { createHash, randomBytes } from "node:crypto";
import { type JWTHeaderParameters, jwtVerify, SignJWT } from "jose";
import { BoundedMap } from "../shared/bounded-map.js";
import { UnauthenticatedError } from "../shared/errors.js";
import { isUuid } from "../shared/ids.js";
import type { ServerKeys } from "./server-keys.js";

/** Who is calling, as proven by a verified access token. */
export interface Caller {
  userId: string;
  cyphrId: string;
  sessionId: string;
  /** The device the session belongs to (claim `did`). */
  deviceId: number;
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
/** Seconds of clock skew allowed on exp (and so how long past exp a cached token stays accepted). */
const CLOCK_TOLERANCE_SECONDS = 5;
/** Verified tokens remembered, so a client's many calls cost one signature check. */
const VERIFIED_CACHE_SIZE = 20_000;

/**
 * Issues and verifies EdDSA (Ed25519) access tokens. A token that verified is remembered
 * (by its exact text, until its exp) so repeated calls skip the signature check; the
 * session behind it is still checked on every call by the caller of verify().
 */
export class AccessTokens {
  private readonly verified = new BoundedMap<string, { caller: Caller; validUntilMs: number }>(VERIFIED_CACHE_SIZE);

  constructor(
    private readonly keys: ServerKeys,
    private readonly settings: TokenSettings,
  ) {}

  async issue(caller: Caller, now = new Date()): Promise<IssuedAccessToken> {
    const issuedAt = Math.floor(now.getTime() / 1000);
    const expiresAt = issuedAt + this.settings.accessTokenTtlSeconds;
    const token = await new SignJWT({ cyphr_id: caller.cyphrId, sid: caller.sessionId, did: caller.deviceId })
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
    const known = this.verified.get(token);
    if (known) {
      if (Date.now() < known.validUntilMs) return known.caller;
      this.verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        algorithms: ["EdDSA"],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        requiredClaims: ["exp", "sub", "sid", "cyphr_id", "did"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      const { sub, sid, cyphr_id: cyphrId, did: deviceId, exp } = payload;
      // A validly signed token with malformed ids (an old or foreign issuer) is refused here, before any query sees it.
      if (!isUuid(sub) || !isUuid(sid) || typeof cyphrId !== "string" || typeof exp !== "number" || !isDeviceId(deviceId)) {
        throw new UnauthenticatedError(INVALID_TOKEN);
      }
      const caller = { userId: sub, sessionId: sid, cyphrId, deviceId };
      this.verified.set(token, { caller, validUntilMs: (exp + CLOCK_TOLERANCE_SECONDS) * 1000 });
      return caller;
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

function isDeviceId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 0x7fff_ffff;
}

/** A new refresh token (base64url of 32 random bytes) and the hash that is stored. */
export function newRefreshToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}
