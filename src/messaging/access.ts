import { isActive, type Membership } from "../chats/model.js";
import { findMembership } from "../chats/repo.js";
import type { Db } from "../db/types.js";
import { NotFoundError, PermissionDeniedError } from "../shared/errors.js";

/** The caller's membership, current or past; NOT_FOUND for chats they never belonged to. */
export async function requireMembership(db: Db, chatId: string, userId: string): Promise<Membership> {
  const membership = await findMembership(db, chatId, userId);
  if (!membership) throw new NotFoundError(`chat ${chatId} not found`);
  return membership;
}

/** The caller's current membership; PERMISSION_DENIED for former members. */
export async function requireActiveMembership(db: Db, chatId: string, userId: string): Promise<Membership> {
  const membership = await requireMembership(db, chatId, userId);
  if (!isActive(membership)) throw new PermissionDeniedError("you are no longer a member of this group");
  return membership;
}
