import { randomBytes, randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { GroupsService } from "../../src/gen/cyphr/groups/v1/groups_pb.js";
import { type Chat, Direction, type Message, MessagingService } from "../../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { clientFor, identityClient, type Protocol } from "./clients.js";
import { type RegisteredUser, registerUser } from "./users.js";

/** A registered user with clients that carry their access token. */
export interface Participant extends RegisteredUser {
  messaging: Client<typeof MessagingService>;
  groups: Client<typeof GroupsService>;
}

export async function participant(baseUrl: string, protocol: Protocol = "connect", prefix = "user"): Promise<Participant> {
  const { uniqueCyphrId } = await import("./users.js");
  const user = await registerUser(identityClient(protocol, baseUrl), uniqueCyphrId(prefix));
  return {
    ...user,
    messaging: clientFor(MessagingService, protocol, baseUrl, { token: user.accessToken }),
    groups: clientFor(GroupsService, protocol, baseUrl, { token: user.accessToken }),
  };
}

/** An opaque payload of random "ciphertext" (the server never looks inside). */
export function randomPayload(bytes = 64) {
  return { ciphertext: randomBytes(bytes), nonce: randomBytes(12), tag: randomBytes(16) };
}

export function sendTo(from: Participant, to: Participant, payload = randomPayload()) {
  return from.messaging.sendMessage({
    destination: { case: "recipientCyphrId", value: to.cyphrId },
    clientMessageId: randomUUID(),
    payload,
    messageType: 1,
  });
}

export function sendInChat(from: Participant, chatId: string, payload = randomPayload()) {
  return from.messaging.sendMessage({
    destination: { case: "chatId", value: chatId },
    clientMessageId: randomUUID(),
    payload,
    messageType: 1,
  });
}

/** A tuple of `N` elements when N is a literal (so `const [a, b] = ...` needs no `!`). */
export type Tuple<T, N extends number, Acc extends T[] = []> = number extends N ? T[] : Acc["length"] extends N ? Acc : Tuple<T, N, [T, ...Acc]>;

/** `count` participants, registered concurrently, each with clients of their own. */
export async function participants<N extends number>(
  baseUrl: string,
  count: N,
  protocol: Protocol = "connect",
  prefix = "user",
): Promise<Tuple<Participant, N>> {
  return (await Promise.all(Array.from({ length: count }, () => participant(baseUrl, protocol, prefix)))) as Tuple<Participant, N>;
}

/** A group created by `admin` with `members` as its other members; returns its chat id. */
export async function createGroupOf(admin: Participant, members: readonly Participant[]): Promise<string> {
  const { group } = await admin.groups.createGroup({
    encryptedName: randomBytes(24),
    memberCyphrIds: members.map((m) => m.cyphrId),
  });
  return group!.chatId;
}

/** Everything `viewer` can read in the chat, oldest first, walked FORWARD page by page. */
export async function fullHistory(viewer: Participant, chatId: string, pageSize = 200): Promise<Message[]> {
  const messages: Message[] = [];
  let cursorSeq = 0n;
  do {
    const page = await viewer.messaging.listMessages({ chatId, cursorSeq, limit: pageSize, direction: Direction.FORWARD });
    messages.push(...page.messages);
    cursorSeq = page.nextCursorSeq;
  } while (cursorSeq !== 0n);
  return messages;
}

/** The seqs of messages, as numbers (readable in assertion diffs). */
export function seqsOf(messages: readonly { seq: bigint }[]): number[] {
  return messages.map((m) => Number(m.seq));
}

/** The caller's entry for `chatId` in ListChats (first page, up to 200 chats). */
export async function chatEntry(viewer: Participant, chatId: string): Promise<Chat | undefined> {
  const { chats } = await viewer.messaging.listChats({ limit: 200 });
  return chats.find((c) => c.chatId === chatId);
}
