/**
 * Everything the MLS engine remembers, in the SDK Store, so that a device restarted from its
 * store continues every chat: each chat's group state (ts-mls encodeGroupState), where it is in
 * the chat's history (last processed seq, the seq it joined at), the private keys of its key
 * packages by KeyPackageRef, the ids of the messages it sent itself, the plaintexts it read
 * or sent (history), and the seq of the last departure of another member it processed whose
 * leaves may still be in the tree (member-sync.ts). Only this module reads or writes the "mls/" keys.
 */
import { type ClientState, decodeGroupState, encodeGroupState, type KeyPackage, type PrivateKeyPackage } from "ts-mls";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import type { Store } from "../store.js";
import { decodeMessage, decodeRecord, encodeRecord, wire } from "./codec.js";

export interface ChatPosition {
  /** The last seq of the chat this device processed (commits applied, messages decrypted). */
  lastSeq: bigint;
  /** The seq of the commit this device joined with: messages at or before it were never for this device. */
  joinedSeq: bigint;
}

export interface StoredKeyPackage {
  publicPackage: KeyPackage;
  privatePackage: PrivateKeyPackage;
  lastResort: boolean;
}

/** A message this device read or sent, as history shows it. */
export interface LoggedMessage {
  seq: bigint;
  messageId: string;
  /** Readable messages: as MLS authenticated it (the sender leaf's credential), not as the server said. */
  senderCyphrId: string;
  /** The sending device, from the same credential; undefined for this device's own and for older records. */
  senderDeviceId?: number;
  /** "text" (UTF-8) or "bytes"; the first byte of every application message says which. */
  contentType: "text" | "bytes";
  body: Uint8Array;
  /** Milliseconds since the epoch of the edit this body is from, 0 if never edited. */
  editedAt: number;
  deleted: boolean;
}

interface KeyPackageRecord {
  publicPackage: Uint8Array;
  initPrivateKey: Uint8Array;
  hpkePrivateKey: Uint8Array;
  signaturePrivateKey: Uint8Array;
  lastResort: boolean;
}

const NOTHING = new Uint8Array(0);

export class GroupStore {
  constructor(private readonly store: Store) {}

  async state(chatId: string): Promise<ClientState | undefined> {
    const bytes = await this.store.get(`mls/group/${chatId}`);
    if (!bytes) return undefined;
    const decoded = decodeGroupState(bytes, 0);
    if (!decoded) throw new Error(`the stored MLS state of chat ${chatId} does not decode`);
    return { ...decoded[0], clientConfig: defaultClientConfig };
  }

  async saveState(chatId: string, state: ClientState, position: ChatPosition): Promise<void> {
    await this.store.set(`mls/group/${chatId}`, encodeGroupState(state));
    await this.savePosition(chatId, position);
  }

  async position(chatId: string): Promise<ChatPosition | undefined> {
    const bytes = await this.store.get(`mls/chat/${chatId}`);
    return bytes && decodeRecord<ChatPosition>(bytes);
  }

  async savePosition(chatId: string, position: ChatPosition): Promise<void> {
    await this.store.set(`mls/chat/${chatId}`, encodeRecord(position));
  }

  /** A member other than this one left or was removed at `seq` (a system message): their leaves may still be in the tree. */
  async noteDeparture(chatId: string, seq: bigint): Promise<void> {
    await this.store.set(`mls/departure/${chatId}`, encodeRecord({ seq }));
  }

  /** The seq of the last departure noted and not yet cleared. */
  async departureSeq(chatId: string): Promise<bigint | undefined> {
    const bytes = await this.store.get(`mls/departure/${chatId}`);
    return bytes && decodeRecord<{ seq: bigint }>(bytes).seq;
  }

  /** Clears the departure noted at `seq` (a later one noted meanwhile stays). */
  async clearDeparture(chatId: string, seq: bigint): Promise<void> {
    if ((await this.departureSeq(chatId)) === seq) await this.store.delete(`mls/departure/${chatId}`);
  }

  async chatIds(): Promise<string[]> {
    return (await this.store.keys("mls/chat/")).map((k) => k.slice("mls/chat/".length));
  }

  async saveKeyPackage(refHex: string, kp: StoredKeyPackage): Promise<void> {
    const record: KeyPackageRecord = { publicPackage: wire.keyPackage(kp.publicPackage), ...kp.privatePackage, lastResort: kp.lastResort };
    await this.store.set(`mls/kp/${refHex}`, encodeRecord(record));
  }

  async keyPackage(refHex: string): Promise<StoredKeyPackage | undefined> {
    const bytes = await this.store.get(`mls/kp/${refHex}`);
    if (!bytes) return undefined;
    const r = decodeRecord<KeyPackageRecord>(bytes);
    const message = decodeMessage(r.publicPackage);
    if (message?.wireformat !== "mls_key_package") throw new Error("a stored key package does not decode");
    return {
      publicPackage: message.keyPackage,
      privatePackage: { initPrivateKey: r.initPrivateKey, hpkePrivateKey: r.hpkePrivateKey, signaturePrivateKey: r.signaturePrivateKey },
      lastResort: r.lastResort,
    };
  }

  /** A one-time package is used up once a Welcome was accepted with it (the last-resort one stays). */
  async deleteKeyPackage(refHex: string): Promise<void> {
    await this.store.delete(`mls/kp/${refHex}`);
  }

  async keyPackageRefs(): Promise<string[]> {
    return (await this.store.keys("mls/kp/")).map((k) => k.slice("mls/kp/".length));
  }

  async markOwn(chatId: string, messageId: string): Promise<void> {
    await this.store.set(`mls/own/${chatId}/${messageId}`, NOTHING);
  }

  async isOwn(chatId: string, messageId: string): Promise<boolean> {
    return (await this.store.get(`mls/own/${chatId}/${messageId}`)) !== undefined;
  }

  async log(chatId: string, message: LoggedMessage): Promise<void> {
    await this.store.set(`mls/log/${chatId}/${message.messageId}`, encodeRecord(message));
  }

  async logged(chatId: string, messageId: string): Promise<LoggedMessage | undefined> {
    const bytes = await this.store.get(`mls/log/${chatId}/${messageId}`);
    return bytes && decodeRecord<LoggedMessage>(bytes);
  }
}
