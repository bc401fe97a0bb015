import { notify, notifySessionRevoked } from "../events/notify.js";
import { type ActiveSession, listActiveSessions, revokeAccountSession, revokeAccountSessionsExcept } from "../identity/session-admin-repo.js";
import type { Caller } from "../identity/tokens.js";
import { InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { isUuid } from "../shared/ids.js";
import type { AccountContext } from "./context.js";

export const MAX_LISTED_SESSIONS = 1000;

export async function listSessions(ctx: AccountContext, caller: Caller): Promise<ActiveSession[]> {
  return listActiveSessions(ctx.pool, caller.userId, MAX_LISTED_SESSIONS);
}

/**
 * Revokes one session of the caller's account. As Logout and RemoveDevice do, the
 * session-revoked notice (sent after commit) ends its streams and drops it from the
 * active-session cache on every instance.
 */
export async function revokeSession(ctx: AccountContext, caller: Caller, sessionId: string): Promise<void> {
  if (!isUuid(sessionId)) throw new InvalidArgumentError("session_id must be a UUID");
  await ctx.pool.transaction(async (tx) => {
    if (!(await revokeAccountSession(tx, caller.userId, sessionId, "revoked"))) throw new NotFoundError("no such active session");
    await notifySessionRevoked(tx, caller.userId, sessionId);
  });
  ctx.identity.activeSessions.revoke(sessionId);
}

/** Revokes every session of the account but the caller's; returns how many. */
export async function revokeOtherSessions(ctx: AccountContext, caller: Caller): Promise<number> {
  const revoked = await ctx.pool.transaction(async (tx) => {
    const ids = await revokeAccountSessionsExcept(tx, caller.userId, caller.sessionId, "revoked");
    await notify(
      tx,
      ids.map((sessionId) => ({ type: "revoke" as const, userId: caller.userId, sessionId })),
    );
    return ids;
  });
  for (const id of revoked) ctx.identity.activeSessions.revoke(id);
  return revoked.length;
}
