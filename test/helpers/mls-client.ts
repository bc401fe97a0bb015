import type { Client } from "@connectrpc/connect";
import { type ClientState, encodeMlsMessage, type KeyPackage, type MLSMessage, type Proposal } from "ts-mls";
import { MessagingService } from "../../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { type ClaimedKeyPackage, KeyPackagesService } from "../../src/gen/cyphr/mls/v1/key_packages_pb.js";
import { MlsChatsService } from "../../src/gen/cyphr/mls/v1/mls_chats_pb.js";
import { decodeMessage } from "../../src/sdk/mls/codec.js";
import { addProposals } from "../../src/sdk/mls/commits.js";
import { GroupStore, type StoredKeyPackage } from "../../src/sdk/mls/group-store.js";
import { MlsDevice as SdkMlsDevice } from "../../src/sdk/mls/mls-device.js";
import { MemoryStore } from "../../src/sdk/store.js";
import { clientFor, type Protocol, transportFor } from "./clients.js";
import { DEFAULT_SUITE } from "./mls.js";
import type { RegisteredUser } from "./users.js";

export function mlsBytes(message: MLSMessage): Uint8Array {
  return encodeMlsMessage(message);
}

/**
 * One device's MLS client for the tests: the SDK's MLS engine (src/sdk/mls) over one protocol,
 * with the raw service clients beside it for the tests that send what the SDK never would.
 */
export class MlsDevice {
  readonly keys: Client<typeof KeyPackagesService>;
  readonly chats: Client<typeof MlsChatsService>;
  readonly messaging: Client<typeof MessagingService>;
  readonly sdk: SdkMlsDevice;
  readonly store = new MemoryStore();
  /** Plaintexts this device decrypted, per chat, in seq order. */
  readonly read = new Map<string, string[]>();
  private readonly reported = new Set<string>();
  private readonly secrets: Uint8Array[] = [];

  constructor(
    readonly user: RegisteredUser,
    baseUrl: string,
    protocol: Protocol = "connect",
  ) {
    const options = { token: () => this.user.accessToken };
    this.keys = clientFor(KeyPackagesService, protocol, baseUrl, options);
    this.chats = clientFor(MlsChatsService, protocol, baseUrl, options);
    this.messaging = clientFor(MessagingService, protocol, baseUrl, options);
    const identity = { cyphrId: user.cyphrId, deviceId: user.device.deviceId, signingSecretKey: user.device.deviceSecretKey };
    this.sdk = new SdkMlsDevice(transportFor(protocol, baseUrl), { accessToken: async () => this.user.accessToken }, identity, this.store);
  }

  get label(): string {
    return `${this.user.cyphrId}#${this.user.device.deviceId}`;
  }

  async newKeyPackage(): Promise<StoredKeyPackage> {
    const kp = await this.sdk.keyPackages.create();
    this.secrets.push(kp.privatePackage.initPrivateKey, kp.privatePackage.hpkePrivateKey);
    return kp;
  }

  async uploadKeyPackages(count: number): Promise<void> {
    await this.sdk.keyPackages.upload(count);
    this.secrets.push(...(await this.sdk.keyPackages.privateKeys()));
  }

  startGroup(chatId: string, groupId: Uint8Array): Promise<void> {
    return this.sdk.initGroup(chatId, groupId);
  }

  prepareCommit(chatId: string, proposals: Proposal[]) {
    return this.sdk.prepareCommit(chatId, proposals);
  }

  /** Commits Add proposals for claimed packages (and Removes), with the server-side membership change. */
  commit(chatId: string, opts: { add?: ClaimedKeyPackage[]; addCyphrIds?: string[]; removeLeaves?: number[]; removeCyphrIds?: string[] } = {}) {
    const removes = (opts.removeLeaves ?? []).map((removed): Proposal => ({ proposalType: "remove", remove: { removed } }));
    return this.sdk.commit(chatId, () => [...addProposals(opts.add ?? []), ...removes], { addCyphrIds: opts.addCyphrIds, removeCyphrIds: opts.removeCyphrIds });
  }

  acceptWelcome(chatId: string): Promise<void> {
    return this.sdk.acceptWelcome(chatId);
  }

  joinExternally(chatId: string) {
    return this.sdk.joinOwnChat(chatId);
  }

  send(chatId: string, plaintext: string) {
    return this.sdk.send(chatId, plaintext);
  }

  /** The chat's messages this device reads and had not reported yet (its own excluded), in seq order. */
  async sync(chatId: string): Promise<string[]> {
    const fresh: string[] = [];
    for (const m of await this.sdk.history(chatId)) {
      if (!m.readable || m.own || this.reported.has(m.messageId)) continue;
      this.reported.add(m.messageId);
      fresh.push(m.text ?? "");
    }
    this.read.set(chatId, [...(this.read.get(chatId) ?? []), ...fresh]);
    return fresh;
  }

  /** The private keys of this device's key packages (init, HPKE): never to be found on the server. */
  async privateKeys(): Promise<Uint8Array[]> {
    return [...this.secrets, ...(await this.sdk.keyPackages.privateKeys())];
  }

  async epoch(chatId: string): Promise<bigint> {
    return this.sdk.epoch(chatId);
  }

  leavesOf(chatId: string, cyphrId: string): Promise<number[]> {
    return this.sdk.leavesOf(chatId, cyphrId);
  }

  state(chatId: string): Promise<ClientState> {
    return this.sdk.state(chatId);
  }

  /** Replaces the device's state of a chat (for tests that make MLS messages by hand). */
  async setState(chatId: string, state: ClientState): Promise<void> {
    const groups = new GroupStore(this.store);
    await groups.saveState(chatId, state, (await groups.position(chatId)) ?? { lastSeq: 0n, joinedSeq: 0n });
  }

  chatIds(): Promise<string[]> {
    return this.sdk.chatIds();
  }
}

export function keyPackageOf(bytes: Uint8Array): KeyPackage {
  const m = decodeMessage(bytes);
  if (m?.wireformat !== "mls_key_package") throw new Error("not a KeyPackage");
  return m.keyPackage;
}

export { DEFAULT_SUITE };
