import { ChatProtocol, isActive, LeftReason, Role, SystemEventKind } from "../chats/model.js";
import { findMembership } from "../chats/repo.js";
import { appendSystemMessage } from "../chats/system-messages.js";
import type { Db } from "../db/types.js";
import { assertCyphrIdFormat } from "../identity/cyphr-id.js";
import type { Caller } from "../identity/tokens.js";
import { groupAddRecorded, requireGroupAdds } from "../privacy/consent.js";
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { quote } from "../shared/quote.js";
import { lockGroupFor, requireRole } from "./access.js";
import { announceGroupChange } from "./announce.js";
import type { GroupsContext } from "./context.js";
import { bumpGroupVersion, countActiveAdmins, endMembership, findMember, type MemberRow, setRole, upsertMembers, userIdsByCyphrId } from "./repo.js";

/** Adds a user (or re-adds a former member, who then reads from this moment on). Admins only. */
export async function addMember(
  ctx: GroupsContext,
  caller: Caller,
  input: { chatId: string; cyphrId: string; role: number },
): Promise<{ member: MemberRow; version: number }> {
  const chatId = requireUuid("chat_id", input.chatId);
  const role = requireRole(input.role, "role", Role.member);
  return ctx.pool.transaction(async (tx) => {
    const { group } = await lockGroupFor(tx, chatId, caller.userId, true);
    refuseMls(group.protocol);
    const userId = await requireUser(tx, input.cyphrId);
    const consent = (await requireGroupAdds(tx, caller.userId, new Map([[input.cyphrId, userId]]))).get(userId)!;
    const existing = await findMembership(tx, chatId, userId);
    if (existing && isActive(existing)) throw new AlreadyExistsError(`${quote(input.cyphrId)} is already a member`);
    if (group.member_count + 1 > ctx.maxMembers) {
      throw new FailedPreconditionError(`the group is full (${ctx.maxMembers} members)`);
    }
    const version = await bumpGroupVersion(tx, chatId);
    const seq = await appendSystemMessage(tx, chatId, {
      kind: SystemEventKind.memberAdded,
      actorUserId: caller.userId,
      targetUserId: userId,
      role,
      groupVersion: version,
    });
    await upsertMembers(tx, chatId, [{ userId, role }], seq);
    await groupAddRecorded(tx, chatId, caller.userId, userId, consent);
    await announceGroupChange(tx, chatId, seq);
    return { member: (await findMember(tx, chatId, userId))!, version };
  });
}

/** Removes a member; their access to new messages ends with the system message recording it. Admins only. */
export async function removeMember(ctx: GroupsContext, caller: Caller, input: { chatId: string; cyphrId: string }): Promise<{ version: number }> {
  const chatId = requireUuid("chat_id", input.chatId);
  if (input.cyphrId === caller.cyphrId) throw new InvalidArgumentError("to remove yourself, use LeaveGroup");
  return ctx.pool.transaction(async (tx) => {
    const { group } = await lockGroupFor(tx, chatId, caller.userId, true);
    refuseMls(group.protocol);
    const { userId, target } = await requireActiveMember(tx, chatId, input.cyphrId);
    if (target.role === Role.admin && (await countActiveAdmins(tx, chatId)) === 1) {
      throw new FailedPreconditionError("cannot remove the last admin; name another admin first");
    }
    const version = await bumpGroupVersion(tx, chatId);
    const seq = await appendSystemMessage(tx, chatId, {
      kind: SystemEventKind.memberRemoved,
      actorUserId: caller.userId,
      targetUserId: userId,
      groupVersion: version,
    });
    await endMembership(tx, chatId, userId, LeftReason.removed, seq);
    await announceGroupChange(tx, chatId, seq, [userId]);
    return { version };
  });
}

/** Makes a member an admin or an admin a member. Admins only; the last admin cannot be demoted. */
export async function changeRole(
  ctx: GroupsContext,
  caller: Caller,
  input: { chatId: string; cyphrId: string; role: number },
): Promise<{ member: MemberRow; version: number }> {
  const chatId = requireUuid("chat_id", input.chatId);
  const role = requireRole(input.role, "role");
  return ctx.pool.transaction(async (tx) => {
    const { group } = await lockGroupFor(tx, chatId, caller.userId, true);
    const { userId, target } = await requireActiveMember(tx, chatId, input.cyphrId);
    if (target.role === role) return { member: (await findMember(tx, chatId, userId))!, version: group.group_version };
    if (role === Role.member && (await countActiveAdmins(tx, chatId)) === 1) {
      throw new FailedPreconditionError("cannot demote the last admin; name another admin first");
    }
    const version = await bumpGroupVersion(tx, chatId);
    const seq = await appendSystemMessage(tx, chatId, {
      kind: SystemEventKind.roleChanged,
      actorUserId: caller.userId,
      targetUserId: userId,
      role,
      groupVersion: version,
    });
    await setRole(tx, chatId, userId, role);
    await announceGroupChange(tx, chatId, seq);
    return { member: (await findMember(tx, chatId, userId))!, version };
  });
}

/** Ends the caller's membership. The last admin must name another admin first, unless nobody else is left. */
export async function leaveGroup(ctx: GroupsContext, caller: Caller, chatIdInput: string): Promise<{ version: number }> {
  const chatId = requireUuid("chat_id", chatIdInput);
  return ctx.pool.transaction(async (tx) => {
    const { group, membership } = await lockGroupFor(tx, chatId, caller.userId, false);
    const othersRemain = group.member_count > 1;
    if (membership.role === Role.admin && othersRemain && (await countActiveAdmins(tx, chatId)) === 1) {
      throw new FailedPreconditionError("you are the last admin; name another admin before leaving");
    }
    const version = await bumpGroupVersion(tx, chatId);
    const seq = await appendSystemMessage(tx, chatId, {
      kind: SystemEventKind.memberLeft,
      actorUserId: caller.userId,
      groupVersion: version,
    });
    await endMembership(tx, chatId, caller.userId, LeftReason.left, seq);
    await announceGroupChange(tx, chatId, seq, [caller.userId]);
    return { version };
  });
}

/** An MLS group adds and removes members only together with the commit that does it. */
function refuseMls(protocol: number): void {
  if (protocol === ChatProtocol.mls) throw new FailedPreconditionError("this is an MLS group: add and remove members with MlsChatsService.CommitMlsChat");
}

async function requireUser(db: Db, cyphrId: string): Promise<string> {
  assertCyphrIdFormat(cyphrId);
  const userId = (await userIdsByCyphrId(db, [cyphrId])).get(cyphrId);
  if (!userId) throw new NotFoundError(`no user with cyphr_id ${quote(cyphrId)}`);
  return userId;
}

/** The user named by `cyphrId` and their membership, which must be active (else NOT_FOUND). */
async function requireActiveMember(db: Db, chatId: string, cyphrId: string) {
  const userId = await requireUser(db, cyphrId);
  const target = await findMembership(db, chatId, userId);
  if (!target || !isActive(target)) throw new NotFoundError(`${quote(cyphrId)} is not a member of this group`);
  return { userId, target };
}
