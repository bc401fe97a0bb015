import { randomUUID } from "node:crypto";
import type { Db } from "../db/types.js";
import { markDeviceActiveToday } from "../devices/repo.js";
import { notifySessionRevoked } from "../events/notify.js";
import { UnauthenticatedError } from "../shared/errors.js";
import type { IdentityContext, SessionTokens } from "./context.js";
import {
  extendSession,
  insertRefreshToken,
  insertSession,
  isSessionActive,
  lockSessionByRefreshToken,
  markRefreshTokenRotated,
  revokeSession,
} from "./session-repo.js";
import { type Caller, hashRefreshToken, newRefreshToken } from "./tokens.js";

/** Starts a session inside the caller's transaction and issues its first tokens. */
export async function startSession(ctx: IdentityContext, tx: Db, user: { userId: string; cyphrId: string; deviceId: number }): Promise<SessionTokens> {
  const sessionId = randomUUID();
  const refresh = newRefreshToken();
  const refreshTokenExpiresAt = refreshExpiry(ctx);
  await insertSession(tx, { id: sessionId, userId: user.userId, deviceId: user.deviceId, expiresAt: refreshTokenExpiresAt });
  await markDeviceActiveToday(tx, user.userId, user.deviceId);
  await insertRefreshToken(tx, refresh.hash, sessionId);
  const access = await ctx.accessTokens.issue({ ...user, sessionId });
  return {
    sessionId,
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: refresh.token,
    refreshTokenExpiresAt,
  };
}

/**
 * Rotates the refresh token. A token that was already rotated is proof that two parties
 * hold it: the session is revoked (and stays revoked) and the caller is refused.
 */
export async function refreshSession(ctx: IdentityContext, presentedToken: string): Promise<SessionTokens> {
  const hash = hashRefreshToken(presentedToken);
  const outcome = await ctx.pool.transaction(async (tx) => {
    const found = await lockSessionByRefreshToken(tx, hash);
    if (!found || found.revoked_at !== null || found.expires_at.getTime() <= Date.now()) {
      return { kind: "refused" as const };
    }
    if (found.rotated_at !== null) {
      await revokeSession(tx, found.session_id, "refresh_token_reuse");
      await notifySessionRevoked(tx, found.user_id, found.session_id);
      return { kind: "reused" as const, sessionId: found.session_id };
    }
    await markRefreshTokenRotated(tx, hash);
    const next = newRefreshToken();
    await insertRefreshToken(tx, next.hash, found.session_id);
    const refreshTokenExpiresAt = refreshExpiry(ctx);
    await extendSession(tx, found.session_id, refreshTokenExpiresAt);
    await markDeviceActiveToday(tx, found.user_id, found.device_id);
    const access = await ctx.accessTokens.issue({
      userId: found.user_id,
      cyphrId: found.cyphr_id,
      sessionId: found.session_id,
      deviceId: found.device_id,
    });
    return {
      kind: "rotated" as const,
      tokens: {
        sessionId: found.session_id,
        accessToken: access.token,
        accessTokenExpiresAt: access.expiresAt,
        refreshToken: next.token,
        refreshTokenExpiresAt,
      },
    };
  });
  if (outcome.kind === "reused") {
    ctx.activeSessions.revoke(outcome.sessionId);
    throw new UnauthenticatedError("refresh token was already used; the session has been revoked");
  }
  if (outcome.kind === "refused") throw new UnauthenticatedError("invalid or expired refresh token");
  return outcome.tokens;
}

/** Revokes the session; its open event streams end on every instance. */
export async function logout(ctx: IdentityContext, caller: Caller): Promise<void> {
  await ctx.pool.transaction(async (tx) => {
    await revokeSession(tx, caller.sessionId, "logout");
    await notifySessionRevoked(tx, caller.userId, caller.sessionId);
  });
  ctx.activeSessions.revoke(caller.sessionId);
}

/** Verifies a bearer token and that its session is still active. */
export async function authenticate(ctx: IdentityContext, accessToken: string): Promise<Caller> {
  const caller = await ctx.accessTokens.verify(accessToken);
  if (ctx.activeSessions.isKnownActive(caller.sessionId)) return caller;
  if (!(await isSessionActive(ctx.pool, caller.sessionId, caller.userId))) {
    throw new UnauthenticatedError("session has been revoked or has expired");
  }
  ctx.activeSessions.confirm(caller.sessionId);
  return caller;
}

function refreshExpiry(ctx: IdentityContext): Date {
  return new Date(Date.now() + ctx.refreshTokenTtlSeconds * 1000);
}
