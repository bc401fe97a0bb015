import { SystemEventKind } from "../chats/model.js";
import { appendSystemMessage } from "../chats/system-messages.js";
import type { Caller } from "../identity/tokens.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { pageLimit, requireUuid } from "../shared/ids.js";
import { quote } from "../shared/quote.js";
import { checkEncryptedName, checkEncryptedSettings, lockGroupFor, requireGroupMember } from "./access.js";
import { announceGroupChange } from "./announce.js";
import type { GroupsContext } from "./context.js";
import { bumpGroupVersion, findGroup, type GroupRow, listActiveMembers, type MemberRow, updateGroupData } from "./repo.js";

const UPDATE_PATHS = ["encrypted_name", "encrypted_settings"];

/** Replaces the encrypted name and/or settings. Admins only. */
export async function updateGroup(
  ctx: GroupsContext,
  caller: Caller,
  input: { chatId: string; paths: readonly string[]; encryptedName: Uint8Array; encryptedSettings: Uint8Array },
): Promise<{ group: GroupRow; role: number }> {
  const chatId = requireUuid("chat_id", input.chatId);
  if (input.paths.length === 0) throw new InvalidArgumentError(`update_paths must name at least one of ${UPDATE_PATHS.join(", ")}`);
  const unknown = input.paths.find((p) => !UPDATE_PATHS.includes(p));
  if (unknown !== undefined) throw new InvalidArgumentError(`update_paths: unknown field ${quote(unknown)}; allowed: ${UPDATE_PATHS.join(", ")}`);
  const changes = {
    encryptedName: input.paths.includes("encrypted_name") ? checkEncryptedName(input.encryptedName) : undefined,
    encryptedSettings: input.paths.includes("encrypted_settings") ? checkEncryptedSettings(input.encryptedSettings) : undefined,
  };
  return ctx.pool.transaction(async (tx) => {
    const { membership } = await lockGroupFor(tx, chatId, caller.userId, true);
    await updateGroupData(tx, chatId, changes);
    const version = await bumpGroupVersion(tx, chatId);
    const seq = await appendSystemMessage(tx, chatId, {
      kind: SystemEventKind.groupUpdated,
      actorUserId: caller.userId,
      groupVersion: version,
    });
    await announceGroupChange(tx, chatId, seq);
    return { group: (await findGroup(tx, chatId))!, role: membership.role };
  });
}

export async function getGroup(ctx: GroupsContext, caller: Caller, chatIdInput: string): Promise<{ group: GroupRow; role: number }> {
  const chatId = requireUuid("chat_id", chatIdInput);
  const membership = await requireGroupMember(ctx.pool, chatId, caller.userId);
  return { group: (await findGroup(ctx.pool, chatId))!, role: membership.role };
}

export const MEMBERS_DEFAULT_LIMIT = 200;
export const MEMBERS_MAX_LIMIT = 1000;

export async function listMembers(
  ctx: GroupsContext,
  caller: Caller,
  input: { chatId: string; limit: number; pageToken: string },
): Promise<{ members: MemberRow[]; nextPageToken: string }> {
  const chatId = requireUuid("chat_id", input.chatId);
  const limit = pageLimit("limit", input.limit, MEMBERS_DEFAULT_LIMIT, MEMBERS_MAX_LIMIT);
  let after = "";
  if (input.pageToken !== "") {
    const match = /^m1:([a-z0-9_]{3,30})$/.exec(Buffer.from(input.pageToken, "base64url").toString("utf8"));
    if (!match) throw new InvalidArgumentError("page_token is not a token returned by ListMembers");
    after = match[1]!;
  }
  await requireGroupMember(ctx.pool, chatId, caller.userId);
  const rows = await listActiveMembers(ctx.pool, chatId, after, limit + 1);
  const members = rows.slice(0, limit);
  const last = members.at(-1);
  return {
    members,
    nextPageToken: rows.length > limit && last ? Buffer.from(`m1:${last.cyphr_id}`, "utf8").toString("base64url") : "",
  };
}
