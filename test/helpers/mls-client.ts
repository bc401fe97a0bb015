import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  decodeMlsMessage,
  emptyPskIndex,
  encodeMlsMessage,
  joinGroup,
  joinGroupExternal,
  processPrivateMessage,
  processPublicMessage,
  type ClientState,
  type KeyPackage,
  type MLSMessage,
  type Proposal,
} from "ts-mls";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { MessagingService, MessageType, Direction } from "../../src/gen/cyphr/messaging/v1/messaging_pb.js";
import { KeyPackagesService, type ClaimedKeyPackage } from "../../src/gen/cyphr/mls/v1/key_packages_pb.js";
import { MlsChatsService } from "../../src/gen/cyphr/mls/v1/mls_chats_pb.js";
import { parseDeviceCredentialIdentity } from "../../src/mls/credential.js";
import { clientFor, type Protocol } from "./clients.js";
import { DEFAULT_SUITE, deviceKeyPackage, suiteImpl, type DeviceKeyPackage } from "./mls.js";
import type { RegisteredUser } from "./users.js";

const text = new TextEncoder();
const untext = new TextDecoder();

export function mlsBytes(message: MLSMessage): Uint8Array {
  return encodeMlsMessage(message);
}

function decoded(bytes: Uint8Array): MLSMessage {
  const m = decodeMlsMessage(bytes, 0);
  if (!m) throw new Error("not an MLS message");
  return m[0];
}

/**
 * One device's MLS client, as the SDK will be: its key packages' private keys and its
 * group states live here only. It talks to the server over one protocol.
 */
export class MlsDevice {
  readonly keys: Client<typeof KeyPackagesService>;
  readonly chats: Client<typeof MlsChatsService>;
  readonly messaging: Client<typeof MessagingService>;
  private readonly packages = new Map<string, DeviceKeyPackage>();
  readonly states = new Map<string, ClientState>();
  private readonly lastSeq = new Map<string, bigint>();
  private readonly mine = new Set<string>();
  /** Plaintexts this device decrypted, per chat, in seq order. */
  readonly read = new Map<string, string[]>();

  constructor(
    readonly user: RegisteredUser,
    baseUrl: string,
    protocol: Protocol = "connect",
  ) {
    const options = { token: () => this.user.accessToken };
    this.keys = clientFor(KeyPackagesService, protocol, baseUrl, options);
    this.chats = clientFor(MlsChatsService, protocol, baseUrl, options);
    this.messaging = clientFor(MessagingService, protocol, baseUrl, options);
  }

  get label(): string {
    return `${this.user.cyphrId}#${this.user.device.deviceId}`;
  }

  async newKeyPackage(): Promise<DeviceKeyPackage> {
    const kp = await deviceKeyPackage({ cyphrId: this.user.cyphrId, deviceId: this.user.device.deviceId, signingSecretKey: this.user.device.deviceSecretKey });
    const ref = await makeKeyPackageRef(kp.publicPackage, (await suiteImpl()).hash);
    this.packages.set(Buffer.from(ref).toString("hex"), kp);
    return kp;
  }

  async uploadKeyPackages(count: number, lastResort = false): Promise<void> {
    const kps = await Promise.all(Array.from({ length: count }, () => this.newKeyPackage()));
    await this.keys.uploadKeyPackages({ keyPackages: kps.map((k) => k.bytes), lastResort });
  }

  /** Creates the chat's MLS group locally at epoch 0 (this device its only member). */
  async startGroup(chatId: string, groupId: Uint8Array): Promise<void> {
    const kp = await this.newKeyPackage();
    this.states.set(chatId, await createGroup(groupId, kp.publicPackage, kp.privatePackage, [], await suiteImpl()));
    this.lastSeq.set(chatId, 0n);
  }

  /** A commit of this device's state, with the GroupInfo of the new epoch; the state moves on only when `apply` says so. */
  async prepareCommit(chatId: string, proposals: Proposal[]) {
    const impl = await suiteImpl();
    const result = await createCommit({ state: this.state(chatId), cipherSuite: impl }, { extraProposals: proposals, ratchetTreeExtension: true });
    const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(result.newState, [], impl);
    return {
      commit: mlsBytes(result.commit),
      welcome: result.welcome ? mlsBytes({ welcome: result.welcome, wireformat: "mls_welcome", version: "mls10" }) : new Uint8Array(0),
      groupInfo: mlsBytes({ groupInfo, wireformat: "mls_group_info", version: "mls10" }),
      apply: (seq: bigint, messageId: string) => {
        this.states.set(chatId, result.newState);
        this.lastSeq.set(chatId, seq);
        this.mine.add(messageId);
      },
    };
  }

  /** Commits Add proposals for claimed packages (and Removes), with the server-side membership change. */
  async commit(chatId: string, opts: { add?: ClaimedKeyPackage[]; addCyphrIds?: string[]; removeLeaves?: number[]; removeCyphrIds?: string[] } = {}) {
    const proposals: Proposal[] = [
      ...(opts.add ?? []).map((c): Proposal => ({ proposalType: "add", add: { keyPackage: keyPackageOf(c.keyPackage) } })),
      ...(opts.removeLeaves ?? []).map((leaf): Proposal => ({ proposalType: "remove", remove: { removed: leaf } })),
    ];
    const prepared = await this.prepareCommit(chatId, proposals);
    const res = await this.chats.commitMlsChat({
      chatId,
      clientMessageId: randomUUID(),
      commit: prepared.commit,
      welcome: prepared.welcome,
      groupInfo: prepared.groupInfo,
      addCyphrIds: opts.addCyphrIds ?? [],
      removeCyphrIds: opts.removeCyphrIds ?? [],
    });
    prepared.apply(res.seq, res.messageId);
    return res;
  }

  /** Joins from the Welcome the server routed to this device for the chat. */
  async acceptWelcome(chatId: string): Promise<void> {
    const { welcomes } = await this.chats.listWelcomes({ chatId });
    const entry = welcomes.find((w) => w.chatId === chatId);
    if (!entry) throw new Error(`${this.label}: no Welcome for chat ${chatId}`);
    const message = decoded(entry.welcome);
    if (message.wireformat !== "mls_welcome") throw new Error("not a Welcome");
    const own = message.welcome.secrets.map((s) => this.packages.get(Buffer.from(s.newMember).toString("hex"))).find((kp) => kp !== undefined);
    if (!own) throw new Error(`${this.label}: the Welcome names none of this device's key packages`);
    this.states.set(chatId, await joinGroup(message.welcome, own.publicPackage, own.privatePackage, emptyPskIndex, await suiteImpl()));
    this.lastSeq.set(chatId, entry.commitSeq);
  }

  /** Joins by external commit with the chat's GroupInfo (a new device of a member). */
  async joinExternally(chatId: string) {
    const info = await this.chats.getGroupInfo({ chatId });
    const message = decoded(info.groupInfo);
    if (message.wireformat !== "mls_group_info") throw new Error("not a GroupInfo");
    const kp = await this.newKeyPackage();
    const impl = await suiteImpl();
    const { publicMessage, newState } = await joinGroupExternal(message.groupInfo, kp.publicPackage, kp.privatePackage, false, impl);
    const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(newState, [], impl);
    const res = await this.chats.joinMlsChat({
      chatId,
      clientMessageId: randomUUID(),
      commit: mlsBytes({ publicMessage, wireformat: "mls_public_message", version: "mls10" }),
      groupInfo: mlsBytes({ groupInfo, wireformat: "mls_group_info", version: "mls10" }),
    });
    this.states.set(chatId, newState);
    this.lastSeq.set(chatId, res.seq);
    this.mine.add(res.messageId);
    return res;
  }

  /** Encrypts and sends one application message. */
  async send(chatId: string, plaintext: string) {
    const { newState, privateMessage } = await createApplicationMessage(this.state(chatId), text.encode(plaintext), await suiteImpl());
    this.states.set(chatId, newState);
    const res = await this.messaging.sendMessage({
      destination: { case: "chatId", value: chatId },
      clientMessageId: randomUUID(),
      messageType: MessageType.TEXT,
      payload: { ciphertext: mlsBytes({ privateMessage, wireformat: "mls_private_message", version: "mls10" }) },
    });
    this.mine.add(res.messageId);
    return res;
  }

  /** Reads the chat's history after what this device processed: applies commits in seq order, decrypts messages. */
  async sync(chatId: string): Promise<string[]> {
    const impl = await suiteImpl();
    const fresh: string[] = [];
    for (;;) {
      const { messages } = await this.messaging.listMessages({ chatId, cursorSeq: this.lastSeq.get(chatId) ?? 0n, direction: Direction.FORWARD, limit: 200 });
      if (messages.length === 0) break;
      for (const m of messages) {
        this.lastSeq.set(chatId, m.seq);
        if (this.mine.has(m.messageId) || m.messageType === MessageType.SYSTEM || !m.payload) continue;
        const message = decoded(m.payload.ciphertext);
        if (message.wireformat === "mls_public_message") {
          const { newState } = await processPublicMessage(this.state(chatId), message.publicMessage, emptyPskIndex, impl);
          this.states.set(chatId, newState);
        } else if (message.wireformat === "mls_private_message") {
          const result = await processPrivateMessage(this.state(chatId), message.privateMessage, emptyPskIndex, impl);
          this.states.set(chatId, result.newState);
          if (result.kind === "applicationMessage") fresh.push(untext.decode(result.message));
        }
      }
    }
    this.read.set(chatId, [...(this.read.get(chatId) ?? []), ...fresh]);
    return fresh;
  }

  /** The private keys of this device's key packages (init, HPKE, signature): never to be found on the server. */
  privateKeys(): Uint8Array[] {
    return [...this.packages.values()].flatMap((k) => [k.privatePackage.initPrivateKey, k.privatePackage.hpkePrivateKey]);
  }

  epoch(chatId: string): bigint {
    return this.state(chatId).groupContext.epoch;
  }

  /** Leaf indices of a user's devices in this device's view of the group. */
  leavesOf(chatId: string, cyphrId: string): number[] {
    const leaves: number[] = [];
    this.state(chatId).ratchetTree.forEach((node, i) => {
      if (node?.nodeType !== "leaf" || node.leaf.credential.credentialType !== "basic") return;
      if (parseDeviceCredentialIdentity(node.leaf.credential.identity)?.cyphrId === cyphrId) leaves.push(i / 2);
    });
    return leaves;
  }

  state(chatId: string): ClientState {
    const s = this.states.get(chatId);
    if (!s) throw new Error(`${this.label} has no MLS state for chat ${chatId}`);
    return s;
  }
}

export function keyPackageOf(bytes: Uint8Array): KeyPackage {
  const m = decoded(bytes);
  if (m.wireformat !== "mls_key_package") throw new Error("not a KeyPackage");
  return m.keyPackage;
}

export { DEFAULT_SUITE };
