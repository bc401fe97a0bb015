/**
 * Finding chats for the CLI's `<user|chat>` arguments: a chat id is used as it is; a cyphr id
 * means the MLS direct chat with that user, found in ListChats or (when asked to) created.
 * Before a chat is read or written this device joins its MLS group if it has not yet.
 */
import { type Chat, ChatKind, ChatProtocol } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import { CyphrError, call } from "../sdk/errors.js";
import { CliError } from "./errors.js";
import type { Session } from "./session.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** ListChats pages read at most (200 chats each): the CLI looks through at most 2,000 chats. */
const MAX_CHAT_PAGES = 10;
/** How long a join waits for the creator's first commit (its Welcome) before finishing a direct chat itself, or giving up on a group. */
const WELCOME_WAIT_MS = 15_000;
const WELCOME_POLL_MS = 300;

export interface ChatRef {
  chatId: string;
  /** Who or what it is, for people: "alice_1" or "group 3f2a… (4 members)". */
  title: string;
  chat: Chat | undefined;
}

export function isChatId(text: string): boolean {
  return UUID.test(text);
}

/** The caller's chats, most recent activity first (at most MAX_CHAT_PAGES pages). */
export async function listChats(session: Session): Promise<Chat[]> {
  const chats: Chat[] = [];
  let pageToken = "";
  for (let page = 0; page < MAX_CHAT_PAGES; page++) {
    const res = await call(async () => session.messaging.listChats({ pageToken, limit: 200 }, await session.auth()));
    chats.push(...res.chats);
    pageToken = res.nextPageToken;
    if (pageToken === "") break;
  }
  return chats;
}

export function titleOf(chat: Chat): string {
  if (chat.kind === ChatKind.DIRECT) return chat.peerCyphrId;
  return `group ${chat.chatId.slice(0, 8)} (${chat.memberCount} member${chat.memberCount === 1 ? "" : "s"})`;
}

/** Resolves `<user|chat>`; with `create`, a user without a direct chat yet gets one. */
export async function resolveChat(session: Session, target: string, options: { create: boolean }): Promise<ChatRef> {
  const chats = await listChats(session);
  if (isChatId(target)) {
    const chat = chats.find((c) => c.chatId === target.toLowerCase());
    if (chat === undefined) throw new CliError(`No chat ${target} among your chats: \`cyphr chats\` lists them.`);
    requireMls(chat);
    return { chatId: chat.chatId, title: titleOf(chat), chat };
  }
  if (target === session.account.cyphrId) throw new CliError("That is your own cyphr id: name another user or a chat id.");
  const direct = chats.find((c) => c.kind === ChatKind.DIRECT && c.protocol === ChatProtocol.MLS && c.peerCyphrId === target);
  if (direct !== undefined) return { chatId: direct.chatId, title: target, chat: direct };
  if (!options.create) throw new CliError(`No chat with ${target} yet: \`cyphr send ${target} <text>\` starts one.`);
  return { chatId: await startDirectChat(session, target), title: target, chat: undefined };
}

/** Makes sure this device is in the chat's MLS group: from its Welcome, or by external commit for the account's own chats. */
export async function ensureJoined(session: Session, chatId: string): Promise<void> {
  if ((await session.mls.chatIds()).includes(chatId)) return;
  const deadline = Date.now() + WELCOME_WAIT_MS;
  for (;;) {
    try {
      await session.mls.acceptWelcome(chatId);
      return;
    } catch (error) {
      if (!(error instanceof CyphrError) || error.code !== "not_found") throw error;
    }
    const chat = (await listChats(session)).find((c) => c.chatId === chatId);
    if (chat !== undefined && chat.mlsEpoch > 0n) {
      // The chat has commits but none welcomed this device: a device linked later joins by external commit.
      await session.mls.joinOwnChat(chatId);
      return;
    }
    // The creator has not sent the first commit yet (it is adding us right now)...
    if (Date.now() >= deadline) {
      // ...or its start was cut off: a direct chat is finished from this side (the SDK makes the first commit).
      if (chat?.kind === ChatKind.DIRECT) return startDirectChat(session, chat.peerCyphrId).then(() => undefined);
      throw new CliError(`Chat ${chatId} has no Welcome for this device yet: try again in a moment.`);
    }
    await new Promise((resolve) => setTimeout(resolve, WELCOME_POLL_MS));
  }
}

function requireMls(chat: Chat): void {
  if (chat.protocol !== ChatProtocol.MLS) throw new CliError(`Chat ${chat.chatId} is not an MLS chat: the CLI reads and writes only MLS chats.`);
}

async function startDirectChat(session: Session, peer: string): Promise<string> {
  try {
    return (await session.mls.startDirectChat(peer)).chatId;
  } catch (error) {
    // Both users started the chat at once: the other one won, and the message names its chat.
    const existing = error instanceof CyphrError && error.code === "already_exists" ? /([0-9a-f-]{36})\s*$/i.exec(error.message)?.[1] : undefined;
    if (existing === undefined) throw error;
    await ensureJoined(session, existing);
    return existing;
  }
}
