import { equalBytes } from "@noble/curves/utils.js";
import { ChatProtocol } from "../chats/model.js";
import type { EncryptedPayload } from "../messaging/payload.js";
import { readFraming } from "../mls/framing.js";
import { InvalidArgumentError } from "../shared/errors.js";
import type { ChatProtocols } from "./chat-protocols.js";
import { mlsGroupId } from "./group-id.js";
import type { ChatProtocolRow } from "./repo.js";

/**
 * Checks a payload sent or edited into a chat: nothing for OPAQUE chats (and for unknown
 * chats, which the send path answers NOT_FOUND); in an MLS chat, exactly one MLSMessage in
 * `ciphertext`, of content type application or proposal, for the chat's group id and its
 * current epoch or one of the `window` epochs before. `ifMember` is consulted before a
 * refusal is reported, so that a non-member learns nothing about a chat.
 */
export async function checkChatPayload(
  protocols: ChatProtocols,
  chatId: string,
  payload: EncryptedPayload,
  window: number,
  ifMember: () => Promise<void>,
): Promise<void> {
  const chat = await protocols.get(chatId);
  if (!chat || chat.protocol !== ChatProtocol.mls) return;
  let problem = problemOf(chat, chatId, payload, window);
  // Another instance may have moved the epoch on: look again before refusing.
  if (problem?.epoch) problem = problemOf((await protocols.get(chatId, true)) ?? chat, chatId, payload, window);
  if (!problem) return;
  await ifMember();
  throw new InvalidArgumentError(problem.message);
}

function problemOf(chat: ChatProtocolRow, chatId: string, payload: EncryptedPayload, window: number): { message: string; epoch?: true } | undefined {
  if (payload.kemCiphertext.length + payload.nonce.length + payload.tag.length + payload.header.length > 0) {
    return { message: "in an MLS chat only payload.ciphertext is set (one MLSMessage); kem_ciphertext, nonce, tag and header must be empty" };
  }
  const framing = readFraming(payload.ciphertext);
  if (typeof framing === "string") return { message: `payload.ciphertext ${framing}` };
  if (framing.contentType === "commit") return { message: "payload.ciphertext is an MLS commit: commits go through MlsChatsService.CommitMlsChat" };
  if (!equalBytes(framing.groupId, mlsGroupId(chatId))) return { message: "payload.ciphertext names another MLS group than this chat's" };
  const current = chat.epoch ?? 0n;
  if (framing.epoch > current || framing.epoch < current - BigInt(window)) {
    return {
      message: `payload.ciphertext is for epoch ${framing.epoch}; the chat is at epoch ${current} (accepted: ${current - BigInt(window) > 0n ? current - BigInt(window) : 0n} to ${current})`,
      epoch: true,
    };
  }
  return undefined;
}
