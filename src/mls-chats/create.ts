import { randomUUID } from "node:crypto";
import { ChatProtocol, Role, SystemEventKind } from "../chats/model.js";
import { findDirectChat, insertDirectChat } from "../chats/repo.js";
import { appendSystemMessage } from "../chats/system-messages.js";
import { checkEncryptedName, checkEncryptedSettings } from "../groups/access.js";
import { announceGroupChange } from "../groups/announce.js";
import { bumpGroupVersion, upsertMembers } from "../groups/repo.js";
import { assertCyphrIdFormat } from "../identity/cyphr-id.js";
import { findIdentityByCyphrId } from "../identity/repo.js";
import type { Caller } from "../identity/tokens.js";
import { spendSend } from "../messaging/rate-limit.js";
import { ciphersuiteById, ciphersuiteId } from "../mls/suites.js";
import { directChatCreated } from "../privacy/consent.js";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "../shared/errors.js";
import { quote } from "../shared/quote.js";
import type { MlsChatsContext } from "./context.js";
import { mlsGroupId } from "./group-id.js";
import { insertMlsGroupChat } from "./repo.js";

export type CreateInput =
  | { kind: "direct"; peerCyphrId: string; ciphersuite: number }
  | { kind: "group"; encryptedName: Uint8Array; encryptedSettings: Uint8Array; ciphersuite: number };

export interface CreatedMlsChat {
  chatId: string;
  groupId: Uint8Array;
  ciphersuite: number;
}

/** The accepted suite a request names (0: the server's default), as its code point. */
export function requireChatCiphersuite(ctx: MlsChatsContext, requested: number): number {
  const suite = requested === 0 ? ctx.ciphersuites[0] : ciphersuiteById(requested);
  if (!suite || !ctx.ciphersuites.includes(suite)) {
    const accepted = ctx.ciphersuites.map((s) => `${ciphersuiteId(s)} (${s})`).join(", ");
    throw new InvalidArgumentError(`ciphersuite: ${requested} is not accepted here (accepted: ${accepted})`);
  }
  return ciphersuiteId(suite);
}

/** Creates an MLS chat at epoch 0: a direct chat with both users as members, or a group with the caller as admin. */
export async function createMlsChat(ctx: MlsChatsContext, caller: Caller, input: CreateInput): Promise<CreatedMlsChat> {
  const ciphersuite = requireChatCiphersuite(ctx, input.ciphersuite);
  spendSend(ctx.sendLimiter, caller.userId);
  const chatId = randomUUID();
  if (input.kind === "direct") {
    assertCyphrIdFormat(input.peerCyphrId, "peer_cyphr_id");
    const peer = await findIdentityByCyphrId(ctx.pool, input.peerCyphrId);
    if (!peer) throw new NotFoundError(`no user with cyphr_id ${quote(input.peerCyphrId)}`);
    if (peer.id === caller.userId) throw new InvalidArgumentError("peer_cyphr_id is your own; a direct chat needs another user");
    const created = await ctx.pool.transaction(async (tx) => {
      if (!(await insertDirectChat(tx, chatId, caller.userId, peer.id, { ciphersuite }))) return false;
      // Starting a chat is writing first: for the peer it is a request until they accept (src/privacy/consent.ts).
      return { accepted: await directChatCreated(tx, chatId, caller.userId) };
    });
    if (created !== false && created.accepted) await ctx.onPeerAccepted?.(caller.userId, created.accepted);
    if (!created) {
      const existing = await findDirectChat(ctx.pool, caller.userId, peer.id, ChatProtocol.mls);
      throw new AlreadyExistsError(`you already have an MLS direct chat with ${quote(input.peerCyphrId)}: ${existing}`);
    }
  } else {
    const encryptedName = checkEncryptedName(input.encryptedName);
    const encryptedSettings = checkEncryptedSettings(input.encryptedSettings);
    await ctx.pool.transaction(async (tx) => {
      await insertMlsGroupChat(tx, { id: chatId, encryptedName, encryptedSettings, ciphersuite });
      const version = await bumpGroupVersion(tx, chatId);
      const seq = await appendSystemMessage(tx, chatId, { kind: SystemEventKind.groupCreated, actorUserId: caller.userId, groupVersion: version });
      await upsertMembers(tx, chatId, [{ userId: caller.userId, role: Role.admin }], seq);
      await announceGroupChange(tx, chatId, seq);
    });
  }
  return { chatId, groupId: mlsGroupId(chatId), ciphersuite };
}
