import { randomUUID } from "node:crypto";
import { equalBytes } from "@noble/curves/utils.js";
import { ChatKind, ChatProtocol, isActive, type Membership, MLS_COMMIT_MESSAGE_TYPE, Role } from "../chats/model.js";
import { allocateSeq, findMembership } from "../chats/repo.js";
import type { Db } from "../db/types.js";
import { findDevice } from "../devices/repo.js";
import { activeMemberIds, recordEvents } from "../events/log.js";
import { DurableKind } from "../events/model.js";
import type { Caller } from "../identity/tokens.js";
import { spendSend } from "../messaging/rate-limit.js";
import { parseDeviceCredentialIdentity } from "../mls/credential.js";
import { readFraming } from "../mls/framing.js";
import { ciphersuiteId } from "../mls/suites.js";
import { notDeclined } from "../privacy/consent.js";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from "../shared/errors.js";
import { type CheckedCommit, type CommitRequest, checkCommitRequest } from "./commit-input.js";
import type { MlsChatsContext } from "./context.js";
import { mlsGroupId } from "./group-id.js";
import { applyMembership, type MembershipPlan, planMembership } from "./membership.js";
import { advanceEpoch, type ChatProtocolRow, findByClientMessageId, insertCommitMessage, lockChatProtocol, welcomedDevices } from "./repo.js";
import { routeWelcome, welcomeTargets } from "./welcome-routing.js";

export interface CommitOutcome {
  messageId: string;
  seq: number;
  epoch: bigint;
  welcomed: readonly { userId: string; cyphrId: string; deviceId: number }[];
  duplicate: boolean;
  groupVersion: number;
}

/**
 * Applies one commit of the chat's current epoch with its membership change, Welcome and
 * GroupInfo, in one transaction under the chat's row lock: the commit gets the next seq,
 * the epoch moves on by one, added users see the chat from after the commit and removed
 * users up to it, and the Welcome reaches exactly the devices it names.
 */
export async function commitMlsChat(ctx: MlsChatsContext, caller: Caller, req: CommitRequest, external = false): Promise<CommitOutcome> {
  const input = checkCommitRequest(req, caller.cyphrId, ctx.maxCommitBytes, external);
  spendSend(ctx.sendLimiter, caller.userId);
  const outcome = await ctx.pool.transaction(async (tx) => {
    const { chat, membership } = await lockMemberChat(tx, input.chatId, caller);
    const earlier = await findByClientMessageId(tx, input.chatId, caller.userId, input.clientMessageId);
    if (earlier) return duplicateOutcome(tx, input.chatId, earlier, chat);
    checkAgainstChat(input, chat);
    if (external) await checkJoiningLeaf(tx, input, caller);
    const plan = await planChange(ctx, tx, input, chat, membership, caller.userId);
    const targets = input.welcome ? await welcomeTargets(tx, input.welcome, plan.membersAfter, plan.added.values()) : [];
    if (input.welcome && targets.length === 0) throw new InvalidArgumentError("welcome names no device");
    const { seq } = await allocateSeq(tx, input.chatId);
    const messageId = randomUUID();
    await insertCommitMessage(tx, {
      chatId: input.chatId,
      seq,
      id: messageId,
      senderId: caller.userId,
      clientMessageId: input.clientMessageId,
      bytes: input.commit,
      messageType: MLS_COMMIT_MESSAGE_TYPE,
    });
    const epoch = await advanceEpoch(tx, input.chatId, input.groupInfoBytes);
    // The commit goes to the members it was made for: those before the change (removed ones
    // included), except those who declined the chat (as for any message).
    const recipients = await notDeclined(tx, input.chatId, [...plan.membersBefore]);
    await recordEvents(tx, [{ kind: DurableKind.messageNew, chatId: input.chatId, seq, data: null, recipients }]);
    const groupVersion = plan.added.size + plan.removed.size > 0 ? await applyMembership(tx, input.chatId, caller.userId, plan) : 0;
    if (input.welcomeBytes) await routeWelcome(tx, input.chatId, seq, input.welcomeBytes, targets);
    return { messageId, seq, epoch, welcomed: await welcomedDevices(tx, input.chatId, seq), duplicate: false, groupVersion, chat };
  });
  ctx.protocols.noteEpoch(input.chatId, outcome.chat, outcome.epoch);
  return {
    messageId: outcome.messageId,
    seq: outcome.seq,
    epoch: outcome.epoch,
    welcomed: outcome.welcomed.map((w) => ({ userId: w.user_id, cyphrId: w.cyphr_id, deviceId: w.device_id })),
    duplicate: outcome.duplicate,
    groupVersion: outcome.groupVersion,
  };
}

/** The chat locked for the commit; NOT_FOUND unless the caller is or was a member, PERMISSION_DENIED if gone. */
async function lockMemberChat(tx: Db, chatId: string, caller: Caller): Promise<{ chat: ChatProtocolRow; membership: Membership }> {
  const chat = await lockChatProtocol(tx, chatId);
  const membership = chat ? await findMembership(tx, chatId, caller.userId) : null;
  if (!chat || !membership) throw new NotFoundError(`chat ${chatId} not found`);
  if (chat.protocol !== ChatProtocol.mls) throw new FailedPreconditionError("this chat uses the OPAQUE protocol, not MLS");
  if (!isActive(membership)) throw new PermissionDeniedError("you are no longer a member of this group");
  return { chat, membership };
}

/** The MLS rules that depend on the chat: its group id, its epoch (total order of commits) and its suite. */
function checkAgainstChat(input: CheckedCommit, chat: ChatProtocolRow): void {
  const groupId = mlsGroupId(input.chatId);
  const epoch = chat.epoch ?? 0n;
  if (!equalBytes(input.framing.groupId, groupId)) throw new InvalidArgumentError("commit names another MLS group than this chat's");
  if (input.framing.epoch < epoch) {
    throw new FailedPreconditionError(
      `stale epoch: the commit is for epoch ${input.framing.epoch} but the chat is at epoch ${epoch}; process the commits since and retry`,
    );
  }
  if (input.framing.epoch > epoch) throw new InvalidArgumentError(`commit is for epoch ${input.framing.epoch}, ahead of the chat's epoch ${epoch}`);
  const suite = chat.ciphersuite ?? 0;
  if (!equalBytes(input.groupInfo.groupId, groupId)) throw new InvalidArgumentError("group_info names another MLS group than this chat's");
  if (input.groupInfo.epoch !== epoch + 1n)
    throw new InvalidArgumentError(`group_info is for epoch ${input.groupInfo.epoch}; the commit makes epoch ${epoch + 1n}`);
  if (ciphersuiteId(input.groupInfo.ciphersuite) !== suite)
    throw new InvalidArgumentError(`group_info uses ciphersuite ${ciphersuiteId(input.groupInfo.ciphersuite)}; the chat uses ${suite}`);
  if (input.welcome && ciphersuiteId(input.welcome.ciphersuite) !== suite) {
    throw new InvalidArgumentError(`welcome uses ciphersuite ${ciphersuiteId(input.welcome.ciphersuite)}; the chat uses ${suite}`);
  }
}

/** An external join adds the caller's own device: its leaf must carry that device's credential and certified key. */
async function checkJoiningLeaf(tx: Db, input: CheckedCommit, caller: Caller): Promise<void> {
  const leaf = input.framing.committerLeaf!;
  const named = leaf.credentialIdentity && parseDeviceCredentialIdentity(leaf.credentialIdentity);
  if (!named || named.cyphrId !== caller.cyphrId || named.deviceId !== caller.deviceId) {
    throw new InvalidArgumentError(`commit: the joining leaf's credential does not name this device (${caller.cyphrId}, device ${caller.deviceId})`);
  }
  const device = await findDevice(tx, caller.userId, caller.deviceId);
  if (!device || !equalBytes(device.signingKey, leaf.signatureKey)) {
    throw new InvalidArgumentError("commit: the joining leaf does not sign with this device's certified signing key");
  }
}

async function planChange(
  ctx: MlsChatsContext,
  tx: Db,
  input: CheckedCommit,
  chat: ChatProtocolRow,
  membership: Membership,
  callerId: string,
): Promise<MembershipPlan> {
  const changes = input.add.length + input.remove.length;
  if (changes > 0) {
    if (chat.kind !== ChatKind.group) throw new InvalidArgumentError("a direct chat's members are fixed: add_cyphr_ids and remove_cyphr_ids must be empty");
    if (membership.role !== Role.admin) throw new PermissionDeniedError("only group admins can add or remove members");
    return planMembership(tx, input.chatId, callerId, input, ctx.maxMembers);
  }
  const members = new Set(await activeMemberIds(tx, input.chatId));
  return { added: new Map(), removed: new Map(), consents: new Map(), membersBefore: members, membersAfter: members };
}

async function duplicateOutcome(
  tx: Db,
  chatId: string,
  earlier: { id: string; seq: number; message_type: number; ciphertext: Buffer | null },
  chat: ChatProtocolRow,
) {
  if (earlier.message_type !== MLS_COMMIT_MESSAGE_TYPE) throw new InvalidArgumentError("client_message_id was already used for another message in this chat");
  const framing = earlier.ciphertext ? readFraming(earlier.ciphertext) : "gone";
  const epoch = typeof framing === "string" ? (chat.epoch ?? 0n) : framing.epoch + 1n;
  return { messageId: earlier.id, seq: earlier.seq, epoch, welcomed: await welcomedDevices(tx, chatId, earlier.seq), duplicate: true, groupVersion: 0, chat };
}
