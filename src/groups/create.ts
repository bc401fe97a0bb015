import { randomUUID } from "node:crypto";
import { Role, SystemEventKind } from "../chats/model.js";
import { appendSystemMessage } from "../chats/system-messages.js";
import { assertCyphrIdFormat } from "../identity/cyphr-id.js";
import type { Caller } from "../identity/tokens.js";
import { spendSend } from "../messaging/rate-limit.js";
import { groupAddRecorded, requireGroupAdds } from "../privacy/consent.js";
import { InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { quote } from "../shared/quote.js";
import { checkEncryptedName, checkEncryptedSettings } from "./access.js";
import { announceGroupChange } from "./announce.js";
import type { GroupsContext } from "./context.js";
import { bumpGroupVersion, findGroup, type GroupRow, insertGroupChat, upsertMembers, userIdsByCyphrId } from "./repo.js";

/** Creates a group with the caller as admin and the named users as members, in one transaction. */
export async function createGroup(
  ctx: GroupsContext,
  caller: Caller,
  input: { encryptedName: Uint8Array; encryptedSettings: Uint8Array; memberCyphrIds: readonly string[] },
): Promise<GroupRow> {
  const encryptedName = checkEncryptedName(input.encryptedName);
  const encryptedSettings = checkEncryptedSettings(input.encryptedSettings);
  const ids = input.memberCyphrIds;
  if (ids.length + 1 > ctx.maxMembers) {
    throw new InvalidArgumentError(`member_cyphr_ids: a group has at most ${ctx.maxMembers} members, the creator included`);
  }
  ids.forEach((id) => assertCyphrIdFormat(id, "member_cyphr_ids"));
  if (new Set(ids).size !== ids.length) throw new InvalidArgumentError("member_cyphr_ids must not repeat an id");
  if (ids.includes(caller.cyphrId)) throw new InvalidArgumentError("member_cyphr_ids must not include the creator");

  spendSend(ctx.sendLimiter, caller.userId);
  const chatId = randomUUID();
  return ctx.pool.transaction(async (tx) => {
    const userIds = await userIdsByCyphrId(tx, ids);
    const missing = ids.find((id) => !userIds.has(id));
    if (missing !== undefined) throw new NotFoundError(`no user with cyphr_id ${quote(missing)}`);
    const consents = await requireGroupAdds(tx, caller.userId, new Map(ids.map((id) => [id, userIds.get(id)!])));
    await insertGroupChat(tx, { id: chatId, encryptedName, encryptedSettings });
    const version = await bumpGroupVersion(tx, chatId);
    const seq = await appendSystemMessage(tx, chatId, {
      kind: SystemEventKind.groupCreated,
      actorUserId: caller.userId,
      groupVersion: version,
    });
    await upsertMembers(tx, chatId, [{ userId: caller.userId, role: Role.admin }, ...ids.map((id) => ({ userId: userIds.get(id)!, role: Role.member }))], seq);
    for (const [memberId, consent] of consents) await groupAddRecorded(tx, chatId, caller.userId, memberId, consent);
    await announceGroupChange(tx, chatId, seq);
    return (await findGroup(tx, chatId))!;
  });
}
