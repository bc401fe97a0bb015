import { isActive } from "../chats/model.js";
import { findMembership } from "../chats/repo.js";
import type { Caller } from "../identity/tokens.js";
import { NotFoundError, PermissionDeniedError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import type { MlsChatsContext } from "./context.js";
import { findGroupInfo, listDeviceWelcomes, type WelcomeRow } from "./repo.js";

/** The chat's latest GroupInfo, for a current member. */
export async function getGroupInfo(
  ctx: MlsChatsContext,
  caller: Caller,
  chatIdInput: string,
): Promise<{ groupInfo: Buffer; epoch: bigint; ciphersuite: number }> {
  const chatId = requireUuid("chat_id", chatIdInput);
  const membership = await findMembership(ctx.pool, chatId, caller.userId);
  const info = membership ? await findGroupInfo(ctx.pool, chatId) : null;
  if (!membership || !info) throw new NotFoundError(`MLS chat ${chatId} not found`);
  if (!isActive(membership)) throw new PermissionDeniedError("you are no longer a member of this group");
  if (!info.groupInfo) throw new NotFoundError("this chat has no GroupInfo yet: nobody has committed to it");
  return { groupInfo: info.groupInfo, epoch: info.epoch, ciphersuite: info.ciphersuite };
}

/** One ListWelcomes answer: at most this many Welcomes, and beyond the first at most this many bytes. */
const MAX_LISTED_WELCOMES = 500;
const MAX_LISTED_BYTES = 4 * 1024 * 1024;

export async function listWelcomes(ctx: MlsChatsContext, caller: Caller, chatIdInput: string): Promise<{ welcomes: WelcomeRow[]; truncated: boolean }> {
  const chatId = chatIdInput === "" ? null : requireUuid("chat_id", chatIdInput);
  return listDeviceWelcomes(ctx.pool, caller.userId, caller.deviceId, chatId, MAX_LISTED_WELCOMES, MAX_LISTED_BYTES);
}
