import { assertCyphrIdFormat } from "../identity/cyphr-id.js";
import { type GroupInfoFraming, type MlsFraming, readFraming, readGroupInfo, readWelcome, type WelcomeFraming } from "../mls/framing.js";
import { InvalidArgumentError, ResourceExhaustedError } from "../shared/errors.js";
import { requireUuid } from "../shared/ids.js";
import { MAX_GROUP_INFO_BYTES, MAX_MEMBERSHIP_CHANGES, MAX_WELCOME_BYTES } from "./limits.js";

export interface CommitRequest {
  chatId: string;
  clientMessageId: string;
  commit: Uint8Array;
  welcome: Uint8Array;
  groupInfo: Uint8Array;
  addCyphrIds: readonly string[];
  removeCyphrIds: readonly string[];
}

/** A commit request whose MLS objects parse and whose fields are well-formed; what the chat's state decides comes later. */
export interface CheckedCommit {
  chatId: string;
  clientMessageId: string;
  commit: Uint8Array;
  framing: MlsFraming;
  welcomeBytes: Uint8Array | undefined;
  welcome: WelcomeFraming | undefined;
  groupInfoBytes: Uint8Array;
  groupInfo: GroupInfoFraming;
  add: readonly string[];
  remove: readonly string[];
}

/**
 * Checks what can be checked without the chat: ids, sizes, that each MLS object is what
 * its field says, and the membership lists. `external`: a JoinMlsChat, whose commit must
 * be a PublicMessage from a new_member_commit sender and which changes no membership.
 */
export function checkCommitRequest(req: CommitRequest, callerCyphrId: string, maxCommitBytes: number, external: boolean): CheckedCommit {
  const chatId = requireUuid("chat_id", req.chatId);
  const clientMessageId = requireUuid("client_message_id", req.clientMessageId);
  if (req.commit.length === 0) throw new InvalidArgumentError("commit is required");
  if (req.commit.length > maxCommitBytes) throw new ResourceExhaustedError(`commit is ${req.commit.length} bytes; the limit is ${maxCommitBytes} bytes`);
  const framing = readFraming(req.commit);
  if (typeof framing === "string") throw new InvalidArgumentError(`commit ${framing}`);
  if (framing.contentType !== "commit") throw new InvalidArgumentError(`commit is an MLS ${framing.contentType} message, not a commit`);
  if (external && (framing.wireFormat !== "public" || framing.senderType !== "new_member_commit")) {
    throw new InvalidArgumentError("commit of an external join must be a PublicMessage from a new_member_commit sender");
  }
  if (external && !framing.committerLeaf) throw new InvalidArgumentError("commit of an external join must carry an update path with the joining device's leaf");
  if (!external && framing.senderType !== undefined && framing.senderType !== "member") {
    throw new InvalidArgumentError(`commit is from a ${framing.senderType} sender: an external commit goes through JoinMlsChat`);
  }
  if (req.groupInfo.length === 0) throw new InvalidArgumentError("group_info is required: the GroupInfo of the new epoch");
  if (req.groupInfo.length > MAX_GROUP_INFO_BYTES)
    throw new ResourceExhaustedError(`group_info is ${req.groupInfo.length} bytes; the limit is ${MAX_GROUP_INFO_BYTES} bytes`);
  const groupInfo = readGroupInfo(req.groupInfo);
  if (typeof groupInfo === "string") throw new InvalidArgumentError(`group_info ${groupInfo}`);
  let welcome: WelcomeFraming | undefined;
  if (req.welcome.length > 0) {
    if (external) throw new InvalidArgumentError("welcome: an external join welcomes nobody");
    if (req.welcome.length > MAX_WELCOME_BYTES)
      throw new ResourceExhaustedError(`welcome is ${req.welcome.length} bytes; the limit is ${MAX_WELCOME_BYTES} bytes`);
    const read = readWelcome(req.welcome);
    if (typeof read === "string") throw new InvalidArgumentError(`welcome ${read}`);
    welcome = read;
  }
  const add = checkIds("add_cyphr_ids", req.addCyphrIds);
  const remove = checkIds("remove_cyphr_ids", req.removeCyphrIds);
  if (external && add.length + remove.length > 0) throw new InvalidArgumentError("an external join changes no membership");
  const both = add.find((id) => remove.includes(id));
  if (both !== undefined) throw new InvalidArgumentError(`${both} is in both add_cyphr_ids and remove_cyphr_ids`);
  if (remove.includes(callerCyphrId)) throw new InvalidArgumentError("remove_cyphr_ids: a member cannot commit its own removal; use GroupsService.LeaveGroup");
  if (add.includes(callerCyphrId)) throw new InvalidArgumentError("add_cyphr_ids: you are already a member");
  if (add.length > 0 && !welcome) throw new InvalidArgumentError("welcome is required when add_cyphr_ids is set");
  return {
    chatId,
    clientMessageId,
    commit: req.commit,
    framing,
    welcomeBytes: welcome ? req.welcome : undefined,
    welcome,
    groupInfoBytes: req.groupInfo,
    groupInfo,
    add,
    remove,
  };
}

function checkIds(field: string, ids: readonly string[]): string[] {
  if (ids.length > MAX_MEMBERSHIP_CHANGES) throw new InvalidArgumentError(`${field}: at most ${MAX_MEMBERSHIP_CHANGES} per commit (got ${ids.length})`);
  ids.forEach((id) => assertCyphrIdFormat(id, field));
  if (new Set(ids).size !== ids.length) throw new InvalidArgumentError(`${field} must not repeat an id`);
  return [...ids];
}
