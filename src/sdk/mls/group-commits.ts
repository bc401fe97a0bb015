/**
 * Changing a chat's MLS group from this device: creating it locally at epoch 0, and committing
 * (with the server's membership change, the Welcome and the new epoch's GroupInfo), retried on a
 * stale epoch by processing the winner first. Callers hold the chat's lock.
 */
import type { Client } from "@connectrpc/connect";
import { type ClientState, createGroup, type Proposal } from "ts-mls";
import type { MlsChatsService } from "../../gen/cyphr/mls/v1/mls_chats_pb.js";
import { MAX_COMMIT_ATTEMPTS, resend } from "./calls.js";
import type { ChatReader } from "./chat-reader.js";
import { suiteImpl } from "./codec.js";
import { type BuiltCommit, buildCommit } from "./commits.js";
import { isStaleEpoch } from "./errors.js";
import type { GroupStore } from "./group-store.js";
import { type KeyPackages, refHex } from "./key-packages.js";

export interface CommitResult {
  chatId: string;
  seq: bigint;
  epoch: bigint;
  messageId: string;
  welcomed: { cyphrId: string; deviceId: number }[];
}

/** The server's membership change that goes with a commit (CommitMlsChat's add/remove_cyphr_ids). */
export interface MembershipChange {
  addCyphrIds?: string[];
  removeCyphrIds?: string[];
}

export class GroupCommits {
  constructor(
    private readonly groups: GroupStore,
    private readonly reader: ChatReader,
    private readonly keyPackages: KeyPackages,
    private readonly chats: Client<typeof MlsChatsService>,
    private readonly activeState: (chatId: string) => Promise<ClientState>,
    private readonly auth: () => Promise<{ headers: Record<string, string> }>,
  ) {}

  /** Creates a chat's MLS group locally at epoch 0, this device its only member (CreateMlsChat gives chat and group id). */
  async initGroup(chatId: string, groupId: Uint8Array): Promise<void> {
    const kp = await this.keyPackages.create();
    const state = await createGroup(groupId, kp.publicPackage, kp.privatePackage, [], await suiteImpl());
    await this.groups.saveState(chatId, state, { lastSeq: 0n, joinedSeq: 0n });
    await this.groups.deleteKeyPackage(await refHex(kp.publicPackage));
  }

  /** A commit of the current state, not sent: `apply` records it as this device's once the server accepted it. */
  async prepare(chatId: string, proposals: Proposal[]): Promise<BuiltCommit & { apply(seq: bigint, messageId: string): Promise<void> }> {
    const built = await buildCommit(await this.activeState(chatId), proposals);
    return { ...built, apply: (seq, messageId) => this.applyOwn(chatId, built.newState, seq, messageId) };
  }

  /**
   * One commit built from the current state (after processing what arrived) and sent. Lost to
   * another commit ("stale epoch"), it processes the winner from history and is built again,
   * MAX_COMMIT_ATTEMPTS in all.
   */
  async commit(chatId: string, proposals: (state: ClientState) => Proposal[], change: MembershipChange = {}): Promise<CommitResult> {
    for (let attempt = 1; ; attempt++) {
      await this.reader.sync(chatId);
      const state = await this.activeState(chatId);
      const built = await buildCommit(state, proposals(state));
      const request = {
        chatId,
        clientMessageId: crypto.randomUUID(),
        commit: built.commit,
        welcome: built.welcome,
        groupInfo: built.groupInfo,
        addCyphrIds: change.addCyphrIds ?? [],
        removeCyphrIds: change.removeCyphrIds ?? [],
      };
      try {
        const res = await resend(async () => this.chats.commitMlsChat(request, await this.auth()));
        await this.applyOwn(chatId, built.newState, res.seq, res.messageId);
        return {
          chatId,
          seq: res.seq,
          epoch: res.epoch,
          messageId: res.messageId,
          welcomed: res.welcomed.map((w) => ({ cyphrId: w.cyphrId, deviceId: w.deviceId })),
        };
      } catch (err) {
        if (!isStaleEpoch(err) || attempt >= MAX_COMMIT_ATTEMPTS) throw err;
      }
    }
  }

  private async applyOwn(chatId: string, newState: ClientState, seq: bigint, messageId: string): Promise<void> {
    await this.groups.markOwn(chatId, messageId);
    await this.groups.saveState(chatId, newState, { ...(await this.reader.position(chatId)), lastSeq: seq });
  }
}
