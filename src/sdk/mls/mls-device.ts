/**
 * The SDK's MLS chat engine for one device: key packages, direct chats and groups, members
 * added and removed with their Welcomes, joining on a Welcome or by external commit, sending,
 * editing and deleting, and history decrypted by this device. All its state is in the Store
 * (see GroupStore): a new MlsDevice over the same Store continues every chat.
 */
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import type { ClientState, Proposal } from "ts-mls";
import { GroupsService } from "../../gen/cyphr/groups/v1/groups_pb.js";
import { type Message, type MessageType, MessagingService } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { type ClaimedKeyPackage, KeyPackagesService } from "../../gen/cyphr/mls/v1/key_packages_pb.js";
import { MlsChatsService } from "../../gen/cyphr/mls/v1/mls_chats_pb.js";
import type { Store } from "../store.js";
import { guard, MAX_COMMIT_ATTEMPTS } from "./calls.js";
import { ChatLocks } from "./chat-lock.js";
import { ChatMessages, type Content } from "./chat-messages.js";
import { ChatReader } from "./chat-reader.js";
import { addProposals, type BuiltCommit, leavesOf, removeProposals } from "./commits.js";
import { type DeviceUpdate, updateDevices, type VerifiedDevice } from "./device-sync.js";
import { finishUnfinished, type StartEngine, startDirect } from "./direct-start.js";
import { mlsFailure, noState, removedFrom } from "./errors.js";
import { type CommitResult, GroupCommits, type MembershipChange } from "./group-commits.js";
import { type ChatPosition, GroupStore } from "./group-store.js";
import type { HistoryMessage } from "./history.js";
import { joinByExternalCommit, joinFromWelcomes } from "./joins.js";
import { type DeviceIdentity, KeyPackages } from "./key-packages.js";
import { type DepartedRemoval, memberIds, removeDeparted, removeDepartedBeforeSending } from "./member-sync.js";

export interface TokenSource {
  accessToken(): Promise<string>;
}

export { MAX_COMMIT_ATTEMPTS };

/** history() returns at most this many messages a call. */
export const HISTORY_PAGE_LIMIT = 1000;

export type { CommitResult, Content };

export class MlsDevice {
  readonly keyPackages: KeyPackages;
  readonly chats: Client<typeof MlsChatsService>;
  readonly messaging: Client<typeof MessagingService>;
  private readonly groupsApi: Client<typeof GroupsService>;
  private readonly groups: GroupStore;
  private readonly locks = new ChatLocks();
  private readonly reader: ChatReader;
  private readonly messages: ChatMessages;
  private readonly commits: GroupCommits;

  constructor(
    transport: Transport,
    private readonly tokens: TokenSource,
    readonly identity: DeviceIdentity,
    store: Store,
  ) {
    this.groups = new GroupStore(store);
    this.chats = createClient(MlsChatsService, transport);
    this.messaging = createClient(MessagingService, transport);
    this.groupsApi = createClient(GroupsService, transport);
    this.keyPackages = new KeyPackages(identity, this.groups, createClient(KeyPackagesService, transport), () => this.auth());
    this.reader = new ChatReader(identity.cyphrId, this.groups, this.messaging, () => this.auth());
    this.commits = new GroupCommits(
      this.groups,
      this.reader,
      this.keyPackages,
      this.chats,
      (chatId) => this.activeState(chatId),
      () => this.auth(),
    );
    const sending = {
      ownCyphrId: identity.cyphrId,
      groups: this.groups,
      commits: this.commits,
      currentMembers: (chatId: string) => memberIds(this.groupsApi, chatId, () => this.auth()),
    };
    const removeDepartedFirst = (chatId: string) => removeDepartedBeforeSending(sending, chatId);
    this.messages = new ChatMessages(
      identity.cyphrId,
      this.groups,
      this.reader,
      this.messaging,
      (chatId) => this.activeState(chatId),
      removeDepartedFirst,
      () => this.auth(),
    );
  }

  /** Keeps `target` one-time key packages and a last-resort one uploaded. */
  ensureKeyPackages(target?: number): Promise<number> {
    return guard(() => this.keyPackages.ensure(target));
  }

  /**
   * Starts the MLS direct chat with a user: Welcomes every device of theirs and this account's other
   * devices. A start of the pair's chat that failed midway (epoch 0, nobody welcomed) is finished instead: see direct-start.ts.
   */
  startDirectChat(peerCyphrId: string): Promise<CommitResult> {
    return guard(() => startDirect(this.startEngine(), peerCyphrId));
  }

  /** Creates an MLS group with this user as its admin, adding `members` (and this account's other devices). */
  createGroup(members: string[] = [], spec: { encryptedName?: Uint8Array; encryptedSettings?: Uint8Array } = {}): Promise<CommitResult> {
    return guard(async () => {
      const created = await this.chats.createMlsChat({ kind: { case: "group", value: spec }, ciphersuite: 0 }, await this.auth());
      await this.initGroup(created.chatId, created.groupId);
      const claimed = await this.keyPackages.claim([this.identity.cyphrId, ...members]);
      return this.commit(created.chatId, () => addProposals(claimed), { addCyphrIds: members });
    });
  }

  /** Adds users to a group: the server's membership change, the commit and its Welcome in one call. */
  addMembers(chatId: string, cyphrIds: string[]): Promise<CommitResult> {
    return guard(async () => {
      const claimed = await this.keyPackages.claim(cyphrIds);
      return this.commit(chatId, () => addProposals(claimed), { addCyphrIds: cyphrIds });
    });
  }

  /** Removes users from a group: every leaf of theirs, and their membership, in one commit. */
  removeMembers(chatId: string, cyphrIds: string[]): Promise<CommitResult> {
    return this.commit(chatId, (state) => removeProposals(state, cyphrIds), { removeCyphrIds: cyphrIds });
  }

  /** An empty commit (a key update of this device's leaf). */
  updateKeys(chatId: string): Promise<CommitResult> {
    return this.commit(chatId, () => []);
  }

  /** Joins a chat from the newest Welcome the server routed to this device (a no-op when already in it and nothing is newer). */
  acceptWelcome(chatId: string): Promise<void> {
    return guard(() =>
      this.locks.run(chatId, async () => {
        const { welcomes } = await this.chats.listWelcomes({ chatId }, await this.auth());
        if (await joinFromWelcomes(this.groups, chatId, welcomes)) return;
        const current = await this.groups.state(chatId);
        if (current && current.groupActiveState.kind === "active") return; // already joined, nothing newer
        throw mlsFailure("not_found", `no Welcome for chat ${chatId} names a key package of this device: join it by external commit (joinOwnChat)`);
      }),
    );
  }

  /** Joins a chat of this account from this (new) device by external commit, retried when another commit wins. */
  joinOwnChat(chatId: string): Promise<CommitResult> {
    return guard(() =>
      this.locks.run(chatId, () =>
        joinByExternalCommit({ chats: this.chats, keyPackages: this.keyPackages, groups: this.groups, auth: () => this.auth() }, chatId),
      ),
    );
  }

  /** Encrypts and sends one message; a retry after a transport failure reuses its client_message_id. */
  send(chatId: string, content: Content, options: { messageType?: MessageType } = {}): Promise<{ messageId: string; seq: bigint }> {
    return guard(async () => {
      await finishUnfinished(this.startEngine(), chatId); // a direct chat whose start this device left half done
      return this.locks.run(chatId, () => this.messages.send(chatId, content, options.messageType));
    });
  }

  /** Replaces one of this user's messages with a new MLS application message. */
  edit(chatId: string, messageId: string, content: Content): Promise<void> {
    return guard(() => this.locks.run(chatId, () => this.messages.edit(chatId, messageId, content)));
  }

  /** Deletes a message for everyone. */
  delete(chatId: string, messageId: string): Promise<void> {
    return guard(() => this.locks.run(chatId, () => this.messages.delete(chatId, messageId)));
  }

  /**
   * A message the realtime stream delivered (new or edited): the chat is processed up to it, and it
   * comes back as history() would show it; undefined for commits and system messages.
   */
  receive(chatId: string, message: Message): Promise<HistoryMessage | undefined> {
    return guard(() => this.locks.run(chatId, () => this.reader.receive(chatId, message)));
  }

  /** Drops the plaintext of a message deleted for everyone (the realtime message_deleted event). */
  forgetDeleted(chatId: string, messageId: string): Promise<void> {
    return guard(() => this.locks.run(chatId, () => this.reader.forget(chatId, messageId)));
  }

  /**
   * Brings the chat's group in line with an account's verified devices (after devices_changed), when
   * this device is the one to act: see device-sync.ts. Undefined when it did nothing.
   */
  updateDevicesOf(chatId: string, cyphrId: string, devices: VerifiedDevice[]): Promise<DeviceUpdate | undefined> {
    return updateDevices(this, chatId, cyphrId, devices);
  }

  /**
   * Removes the leaves of users who are no longer members of the group (after a member left, was
   * removed, or deleted the account), when this device is the one to act: see member-sync.ts.
   * Undefined when it did nothing.
   */
  removeDepartedMembers(chatId: string): Promise<DepartedRemoval | undefined> {
    return guard(() => removeDeparted(this, chatId, this.identity.cyphrId, () => memberIds(this.groupsApi, chatId, () => this.auth())));
  }

  /** Processes what arrived since the last call (commits applied, messages decrypted); returns the new messages. */
  sync(chatId: string): Promise<HistoryMessage[]> {
    return guard(() => this.locks.run(chatId, () => this.reader.sync(chatId)));
  }

  /**
   * The chat's application messages in seq order, decrypted or marked unreadable (and why): at most
   * `limit` (default HISTORY_PAGE_LIMIT) after seq `afterSeq`; page on with the last one's seq.
   */
  history(chatId: string, page: { afterSeq?: bigint; limit?: number } = {}): Promise<HistoryMessage[]> {
    const limit = Math.min(Math.max(1, page.limit ?? HISTORY_PAGE_LIMIT), HISTORY_PAGE_LIMIT);
    return guard(() =>
      this.locks.run(chatId, async () => {
        await this.reader.sync(chatId);
        return this.reader.history(chatId, this.identity.cyphrId, page.afterSeq ?? 0n, limit);
      }),
    );
  }

  /** The chat's current epoch in this device's state. */
  async epoch(chatId: string): Promise<bigint> {
    return (await this.state(chatId)).groupContext.epoch;
  }

  /** Leaf indices of a user's devices in this device's view of the group. */
  async leavesOf(chatId: string, cyphrId: string): Promise<number[]> {
    return leavesOf(await this.state(chatId), cyphrId);
  }

  /** Whether this device has an MLS state for the chat (joined it, or was removed from it). */
  async hasChat(chatId: string): Promise<boolean> {
    return (await this.groups.position(chatId)) !== undefined;
  }

  /** Where this device is in a chat: the last seq it processed and the seq it joined at. */
  position(chatId: string): Promise<ChatPosition> {
    return guard(() => this.reader.position(chatId));
  }

  /** The chats this device has an MLS state for. */
  chatIds(): Promise<string[]> {
    return this.groups.chatIds();
  }

  async state(chatId: string): Promise<ClientState> {
    const state = await this.groups.state(chatId);
    if (!state) throw noState(chatId);
    return state;
  }

  /** The state of a chat this device is still a member of, to send or commit with. */
  private async activeState(chatId: string): Promise<ClientState> {
    const state = await this.state(chatId);
    if (state.groupActiveState.kind === "removedFromGroup") throw removedFrom(chatId);
    return state;
  }

  /** Creates a chat's MLS group locally at epoch 0, this device its only member (CreateMlsChat gives chat and group id). */
  initGroup(chatId: string, groupId: Uint8Array): Promise<void> {
    return this.commits.initGroup(chatId, groupId);
  }

  /**
   * A commit of this device's current state, not sent: `apply` records it as this device's once
   * the server accepted it (CommitMlsChat's seq and message id). For callers that send it themselves.
   */
  prepareCommit(chatId: string, proposals: Proposal[]): Promise<BuiltCommit & { apply(seq: bigint, messageId: string): Promise<void> }> {
    return this.commits.prepare(chatId, proposals);
  }

  /**
   * One commit with the server's membership change: built from the current state (after processing
   * what arrived), sent with its Welcome and the new epoch's GroupInfo. Lost to another commit
   * ("stale epoch"), it processes the winner from history and is built again, MAX_COMMIT_ATTEMPTS in all.
   */
  commit(chatId: string, proposals: (state: ClientState) => Proposal[], change: MembershipChange = {}): Promise<CommitResult> {
    return guard(() => this.locks.run(chatId, () => this.commits.commit(chatId, proposals, change)));
  }

  /** One key package of each device of a user (of the own account: each other device), as ClaimKeyPackages hands them out. */
  claimKeyPackages(cyphrId: string): Promise<ClaimedKeyPackage[]> {
    return guard(() => this.keyPackages.claim([cyphrId]));
  }

  private startEngine(): StartEngine {
    return {
      identity: this.identity,
      chats: this.chats,
      messaging: this.messaging,
      auth: () => this.auth(),
      stateIfAny: (chatId) => this.groups.state(chatId),
      positionIfAny: (chatId) => this.groups.position(chatId),
      initGroup: (chatId, groupId) => this.initGroup(chatId, groupId),
      claimKeyPackages: (cyphrId) => this.keyPackages.claim([cyphrId]),
      commit: (chatId, proposals) => this.commit(chatId, proposals),
      acceptWelcome: (chatId) => this.acceptWelcome(chatId),
      joinOwnChat: (chatId) => this.joinOwnChat(chatId),
    };
  }

  private async auth(): Promise<{ headers: Record<string, string> }> {
    return { headers: { authorization: `Bearer ${await this.tokens.accessToken()}` } };
  }
}
