import { randomBytes, randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { GroupsService } from "../../src/gen/cyphr/groups/v1/groups_pb.js";
import { MessagingService } from "../../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { clientFor, identityClient, type Protocol } from "./clients.js";
import { registerUser, type RegisteredUser } from "./users.js";

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
