import { ChatKind, isActive, type Membership, Role } from "../chats/model.js";
import { findMembership } from "../chats/repo.js";
import type { Db } from "../db/types.js";
import { InvalidArgumentError, NotFoundError, PermissionDeniedError } from "../shared/errors.js";
import { type GroupRow, lockGroup } from "./repo.js";

export const MAX_ENCRYPTED_NAME_BYTES = 1024;
export const MAX_ENCRYPTED_SETTINGS_BYTES = 65_536;

/** The caller's current membership of a group; NOT_FOUND if never a member, PERMISSION_DENIED if gone. */
export async function requireGroupMember(db: Db, chatId: string, userId: string): Promise<Membership> {
  const membership = await findMembership(db, chatId, userId);
  if (!membership) throw new NotFoundError(`group ${chatId} not found`);
  if (membership.kind !== ChatKind.group) throw new InvalidArgumentError(`chat ${chatId} is a direct chat, not a group`);
  if (!isActive(membership)) throw new PermissionDeniedError("you are no longer a member of this group");
  return membership;
}

/**
 * Locks the group for a change and checks the caller is a current member (and an admin
 * when `adminOnly`). Every membership change goes through here, so changes of one group
 * are serialized and the last-admin rule cannot be raced.
 */
export async function lockGroupFor(db: Db, chatId: string, userId: string, adminOnly: boolean): Promise<{ group: GroupRow; membership: Membership }> {
  const group = await lockGroup(db, chatId);
  const membership = await requireGroupMember(db, chatId, userId);
  if (adminOnly && membership.role !== Role.admin) throw new PermissionDeniedError("only group admins can do this");
  return { group: group!, membership };
}

export function checkEncryptedName(value: Uint8Array): Uint8Array | null {
  if (value.length > MAX_ENCRYPTED_NAME_BYTES) {
    throw new InvalidArgumentError(`encrypted_name must be at most ${MAX_ENCRYPTED_NAME_BYTES} bytes, got ${value.length}`);
  }
  return value.length === 0 ? null : value;
}

export function checkEncryptedSettings(value: Uint8Array): Uint8Array | null {
  if (value.length > MAX_ENCRYPTED_SETTINGS_BYTES) {
    throw new InvalidArgumentError(`encrypted_settings must be at most ${MAX_ENCRYPTED_SETTINGS_BYTES} bytes, got ${value.length}`);
  }
  return value.length === 0 ? null : value;
}

export function requireRole(value: number, field: string, fallback?: Role): Role {
  if (value === 0 && fallback !== undefined) return fallback;
  if (value !== Role.member && value !== Role.admin) {
    throw new InvalidArgumentError(`${field} must be CHAT_ROLE_MEMBER or CHAT_ROLE_ADMIN`);
  }
  return value;
}
