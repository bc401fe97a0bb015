import type { Client } from "@connectrpc/connect";
import { PrivacyService } from "../../src/gen/cyphr/privacy/v1/privacy_pb.js";
import { clientFor, type Protocol } from "./clients.js";

/** PrivacyService as `user` (settings, blocks, requests). */
export function privacyOf(baseUrl: string, user: { accessToken: string }, protocol: Protocol = "connect"): Client<typeof PrivacyService> {
  return clientFor(PrivacyService, protocol, baseUrl, { token: user.accessToken });
}

/** `user` accepts the message request in `chatId` (a first message from someone they had not accepted). */
export async function acceptRequest(baseUrl: string, user: { accessToken: string }, chatId: string): Promise<void> {
  await privacyOf(baseUrl, user).acceptChat({ chatId });
}
