/**
 * Starting an MLS direct chat, and finishing one whose start failed midway. CreateMlsChat makes the
 * chat at epoch 0; the first commit (Welcoming the peer's devices and this account's other ones)
 * makes epoch 1. A start cut off in between (the process killed, the connection lost) leaves a chat
 * that exists, that CreateMlsChat now answers ALREADY_EXISTS for, and that nobody can read. Either
 * member finishes it: while the server has no commit, the first commit is made again from a fresh
 * group (an epoch-0 state left on this device never reached anyone); once a commit exists (the
 * other member finished it first), this device drops its epoch-0 state and joins from its Welcome,
 * or by external commit when none names it.
 */
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { ClientState } from "ts-mls";
import { ChatKind, type MessagingService } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import type { ClaimedKeyPackage } from "../../gen/cyphr/mls/v1/key_packages_pb.js";
import type { MlsChatsService } from "../../gen/cyphr/mls/v1/mls_chats_pb.js";
import { mlsGroupId } from "../../mls-chats/group-id.js";
import { CyphrError } from "../errors.js";
import { addProposals } from "./commits.js";
import type { ChatPosition } from "./group-store.js";
import type { CommitResult } from "./mls-device.js";

/** What starting a direct chat needs of the engine (MlsDevice). */
export interface StartEngine {
  readonly identity: { cyphrId: string };
  readonly chats: Client<typeof MlsChatsService>;
  readonly messaging: Client<typeof MessagingService>;
  auth(): Promise<{ headers: Record<string, string> }>;
  stateIfAny(chatId: string): Promise<ClientState | undefined>;
  positionIfAny(chatId: string): Promise<ChatPosition | undefined>;
  initGroup(chatId: string, groupId: Uint8Array): Promise<void>;
  claimKeyPackages(cyphrId: string): Promise<ClaimedKeyPackage[]>;
  commit(chatId: string, proposals: () => ReturnType<typeof addProposals>): Promise<CommitResult>;
  acceptWelcome(chatId: string): Promise<void>;
  joinOwnChat(chatId: string): Promise<CommitResult>;
}

/** Creates the direct chat with a peer, or finishes the unfinished one the pair already has; its first commit. */
export async function startDirect(engine: StartEngine, peerCyphrId: string): Promise<CommitResult> {
  let chatId: string;
  try {
    chatId = (await engine.chats.createMlsChat({ kind: { case: "peerCyphrId", value: peerCyphrId }, ciphersuite: 0 }, await engine.auth())).chatId;
  } catch (err) {
    const existing = existingChatOf(err);
    if (existing === undefined) throw err;
    // A chat that has its first commit works: this device takes part (its Welcome) and the caller uses it.
    if (await hasCommits(engine, existing)) {
      await leaveDeadStart(engine, existing);
      throw err;
    }
    chatId = existing;
  }
  return firstCommit(engine, chatId, peerCyphrId);
}

/**
 * Before this device sends in a chat: a start it left unfinished (its state still at epoch 0) is
 * finished, by the first commit if the server has none yet (direct chats), else by joining.
 */
export async function finishUnfinished(engine: StartEngine, chatId: string): Promise<void> {
  // Only a state that never processed a commit (its position still 0) can be an unfinished start.
  if ((await engine.positionIfAny(chatId))?.lastSeq !== 0n) return;
  const state = await engine.stateIfAny(chatId);
  if (state === undefined || state.groupContext.epoch !== 0n) return;
  if (await hasCommits(engine, chatId)) return leaveDeadStart(engine, chatId);
  const peer = await directPeerOf(engine, chatId);
  if (peer !== undefined) await firstCommit(engine, chatId, peer);
}

async function firstCommit(engine: StartEngine, chatId: string, peerCyphrId: string): Promise<CommitResult> {
  await engine.initGroup(chatId, mlsGroupId(chatId));
  const claimed = [...(await engine.claimKeyPackages(peerCyphrId)), ...(await engine.claimKeyPackages(engine.identity.cyphrId))];
  try {
    return await engine.commit(chatId, () => addProposals(claimed));
  } catch (err) {
    // The peer finished the same start at the same moment, and won.
    if (!(await hasCommits(engine, chatId))) throw err;
    await leaveDeadStart(engine, chatId);
    throw new CyphrError("already_exists", `the direct chat with ${peerCyphrId} was started by both sides at once; this device joined it: ${chatId}`);
  }
}

/** Replaces an epoch-0 state of a chat that has commits: from this device's Welcome, else by external commit. */
async function leaveDeadStart(engine: StartEngine, chatId: string): Promise<void> {
  const state = await engine.stateIfAny(chatId);
  if (state !== undefined && state.groupContext.epoch !== 0n) return;
  try {
    await engine.acceptWelcome(chatId);
  } catch (err) {
    if (!(err instanceof CyphrError && err.code === "not_found")) throw err;
  }
  const joined = await engine.stateIfAny(chatId);
  if (joined === undefined || joined.groupContext.epoch === 0n) await engine.joinOwnChat(chatId);
}

/** Whether the chat has a first commit (GetGroupInfo answers NOT_FOUND until then). */
async function hasCommits(engine: StartEngine, chatId: string): Promise<boolean> {
  try {
    await engine.chats.getGroupInfo({ chatId }, await engine.auth());
    return true;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return false;
    throw err;
  }
}

/** The chat id CreateMlsChat names when the pair already has an MLS direct chat. */
export function existingChatOf(err: unknown): string | undefined {
  if (!(err instanceof ConnectError) || err.code !== Code.AlreadyExists) return undefined;
  return /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s*$/i.exec(err.rawMessage)?.[1]?.toLowerCase();
}

/** The peer of a direct chat of this user (ListChats, every page); undefined for a group. */
async function directPeerOf(engine: StartEngine, chatId: string): Promise<string | undefined> {
  let pageToken = "";
  do {
    const page = await engine.messaging.listChats({ pageToken, limit: 200 }, await engine.auth());
    const chat = page.chats.find((c) => c.chatId === chatId);
    if (chat) return chat.kind === ChatKind.DIRECT ? chat.peerCyphrId : undefined;
    pageToken = page.nextPageToken;
  } while (pageToken);
  return undefined;
}
