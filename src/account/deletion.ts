import { randomUUID } from "node:crypto";
import { Role, SystemEventKind } from "../chats/model.js";
import { appendSystemMessage } from "../chats/system-messages.js";
import type { Db } from "../db/types.js";
import { notify } from "../events/notify.js";
import { announceGroupChange } from "../groups/announce.js";
import { bumpGroupVersion, setRole } from "../groups/repo.js";
import { assertLength, ED25519_SIGNATURE_BYTES, verifySignature } from "../identity/keys.js";
import { quarantineCyphrId } from "../identity/quarantine.js";
import { findIdentityById } from "../identity/repo.js";
import type { Caller } from "../identity/tokens.js";
import { PermissionDeniedError, UnauthenticatedError } from "../shared/errors.js";
import { ACCOUNT_NONCE_BYTES, ChallengePurpose, consumeChallenge, issueChallenge } from "./challenges.js";
import type { AccountContext } from "./context.js";
import { chatsOf, deleteEmptyGroup, deleteIdentity, liveSessionIds, lockActiveGroups, reattributeToGhost } from "./deletion-repo.js";
import { deleteAccountSignedBytes } from "./signed-bytes.js";

const DAY_MS = 86_400_000;

export async function createDeletionChallenge(ctx: AccountContext, caller: Caller): Promise<{ nonce: Buffer; expiresAt: Date }> {
  return issueChallenge(ctx.pool, ChallengePurpose.deletion, caller.cyphrId);
}

/**
 * Deletes the caller's account in one transaction, after a fresh signature by the
 * identity key: hands over or removes its groups, turns what it leaves in other people's
 * chats into tombstones under a random id, deletes every row keyed by the account,
 * quarantines the Cyphr ID, and ends its sessions on every instance.
 */
export async function deleteAccount(ctx: AccountContext, caller: Caller, nonce: Uint8Array, signature: Uint8Array): Promise<{ availableAt: Date }> {
  assertLength("nonce", nonce, ACCOUNT_NONCE_BYTES);
  assertLength("signature", signature, ED25519_SIGNATURE_BYTES);
  const nonceValid = await consumeChallenge(ctx.pool, ChallengePurpose.deletion, nonce, caller.cyphrId);
  const identity = await findIdentityById(ctx.pool, caller.userId);
  if (!identity) throw new UnauthenticatedError("the account no longer exists");
  const signed = deleteAccountSignedBytes(identity.cyphr_id, nonce);
  if (!nonceValid || !verifySignature(signature, signed, identity.identity_public_key)) {
    throw new PermissionDeniedError("deletion signature or nonce is not valid");
  }
  const availableAt = new Date(Date.now() + ctx.idQuarantineDays * DAY_MS);
  const ghost = randomUUID();
  const sessions = await ctx.pool.transaction(async (tx) => {
    const sessions = await liveSessionIds(tx, caller.userId);
    await leaveGroups(tx, caller.userId, ghost);
    await reattributeToGhost(tx, caller.userId, ghost, await chatsOf(tx, caller.userId));
    await deleteIdentity(tx, caller.userId, identity.cyphr_id);
    await quarantineCyphrId(tx, ctx.identity.keys.fingerprintSecret, identity.cyphr_id, availableAt);
    await notify(
      tx,
      sessions.map((sessionId) => ({ type: "revoke" as const, userId: caller.userId, sessionId })),
    );
    return sessions;
  });
  for (const sessionId of sessions) ctx.identity.activeSessions.revoke(sessionId);
  return { availableAt };
}

/**
 * Each active group membership ends as a "member left" by the ghost (announced to the
 * members); a last admin is first succeeded by the longest-standing member; a group
 * nobody else is in is removed.
 */
async function leaveGroups(tx: Db, userId: string, ghost: string): Promise<void> {
  for (const group of await lockActiveGroups(tx, userId)) {
    if (group.successor === null) {
      await deleteEmptyGroup(tx, group.chatId);
      continue;
    }
    if (group.isAdmin && group.otherAdmins === 0) {
      const version = await bumpGroupVersion(tx, group.chatId);
      const seq = await appendSystemMessage(tx, group.chatId, {
        kind: SystemEventKind.roleChanged,
        actorUserId: ghost,
        targetUserId: group.successor,
        role: Role.admin,
        groupVersion: version,
      });
      await setRole(tx, group.chatId, group.successor, Role.admin);
      await announceGroupChange(tx, group.chatId, seq);
    }
    const version = await bumpGroupVersion(tx, group.chatId);
    const seq = await appendSystemMessage(tx, group.chatId, { kind: SystemEventKind.memberLeft, actorUserId: ghost, groupVersion: version });
    // The membership row goes with the identity; the members hear of it now.
    await announceGroupChange(tx, group.chatId, seq);
  }
}
