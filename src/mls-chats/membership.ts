import { LeftReason, Role, SystemEventKind } from "../chats/model.js";
import { findMembership } from "../chats/repo.js";
import { appendSystemMessage } from "../chats/system-messages.js";
import type { Db } from "../db/types.js";
import { activeMemberIds } from "../events/log.js";
import { announceGroupChange } from "../groups/announce.js";
import { bumpGroupVersion, countActiveAdmins, endMembership, upsertMembers, userIdsByCyphrId } from "../groups/repo.js";
import { type GroupAddConsents, groupAddRecorded, requireGroupAdds } from "../privacy/consent.js";
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from "../shared/errors.js";
import { quote } from "../shared/quote.js";

export interface MembershipPlan {
  /** Users added and removed, by Cyphr ID → user id. */
  added: Map<string, string>;
  removed: Map<string, string>;
  /** How each add goes (by user id): a plain add, or a request for a user who had not accepted the adder. */
  consents: GroupAddConsents;
  /** The chat's active members before the change, and once it is applied. */
  membersBefore: ReadonlySet<string>;
  membersAfter: Set<string>;
}

/**
 * Checks a group's membership change against its state (who exists, whether each added user
 * takes adds from `adderId` as GroupsService decides it, who is a member, capacity, the last
 * admin), before anything is written.
 */
export async function planMembership(
  db: Db,
  chatId: string,
  adderId: string,
  change: { add: readonly string[]; remove: readonly string[] },
  maxMembers: number,
): Promise<MembershipPlan> {
  const { add, remove } = change;
  const ids = await userIdsByCyphrId(db, [...add, ...remove]);
  const missing = [...add, ...remove].find((id) => !ids.has(id));
  if (missing !== undefined) throw new NotFoundError(`no user with cyphr_id ${quote(missing)}`);
  const added = new Map(add.map((id) => [id, ids.get(id)!]));
  const consents = await requireGroupAdds(db, adderId, added);
  const members = new Set(await activeMemberIds(db, chatId));
  const removed = new Map(remove.map((id) => [id, ids.get(id)!]));
  for (const [cyphrId, userId] of added) if (members.has(userId)) throw new AlreadyExistsError(`${quote(cyphrId)} is already a member`);
  for (const [cyphrId, userId] of removed) if (!members.has(userId)) throw new NotFoundError(`${quote(cyphrId)} is not a member of this group`);
  const membersAfter = new Set([...members].filter((u) => ![...removed.values()].includes(u)));
  for (const userId of added.values()) membersAfter.add(userId);
  if (added.size > 0 && membersAfter.size > maxMembers) throw new FailedPreconditionError(`the group is full (${maxMembers} members)`);
  if (removed.size > 0) {
    let removedAdmins = 0;
    for (const userId of removed.values()) if ((await findMembership(db, chatId, userId))?.role === Role.admin) removedAdmins++;
    if (removedAdmins > 0 && removedAdmins >= (await countActiveAdmins(db, chatId))) {
      throw new FailedPreconditionError("cannot remove the last admin; name another admin first");
    }
  }
  return { added, removed, consents, membersBefore: members, membersAfter };
}

/**
 * Records the change after the commit's message: one system message per user added or
 * removed (each with its group version), added users seeing the chat from theirs on (a
 * request for those who had not accepted the adder), removed users up to theirs. Returns the group version in force after the change.
 */
export async function applyMembership(db: Db, chatId: string, actorUserId: string, plan: MembershipPlan): Promise<number> {
  let version = 0;
  for (const userId of plan.added.values()) {
    version = await bumpGroupVersion(db, chatId);
    const seq = await appendSystemMessage(db, chatId, {
      kind: SystemEventKind.memberAdded,
      actorUserId,
      targetUserId: userId,
      role: Role.member,
      groupVersion: version,
    });
    await upsertMembers(db, chatId, [{ userId, role: Role.member }], seq);
    await groupAddRecorded(db, chatId, actorUserId, userId, plan.consents.get(userId)!);
    await announceGroupChange(db, chatId, seq);
  }
  for (const userId of plan.removed.values()) {
    version = await bumpGroupVersion(db, chatId);
    const seq = await appendSystemMessage(db, chatId, { kind: SystemEventKind.memberRemoved, actorUserId, targetUserId: userId, groupVersion: version });
    await endMembership(db, chatId, userId, LeftReason.removed, seq);
    await announceGroupChange(db, chatId, seq, [userId]);
  }
  return version;
}
