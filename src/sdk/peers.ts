/**
 * The SDK's stored view of other accounts' identities ("peers/<cyphr id>" in the Store; only this
 * module reads or writes those keys): the identity key this device last verified for a peer, the
 * safety number it makes with this account, and the peer's recent identity changes with where each
 * happened in the chats this device shares with them (so history can say so at the right place).
 */
import { decodeJson, encodeJson, fromHex, toHex } from "./bytes.js";
import type { Store } from "./store.js";

/** At most this many identity changes are kept per peer (the oldest go first). */
export const MAX_IDENTITY_CHANGES = 16;

const PREFIX = "peers/";

export interface IdentityChange {
  /** When this device learned of it. */
  at: Date;
  identityKey: Uint8Array;
  safetyNumber: string;
  /** The chats shared with the peer then, each with the last seq this device had processed. */
  chats: { chatId: string; afterSeq: bigint }[];
}

export interface PeerIdentity {
  userId: string;
  cyphrId: string;
  identityKey: Uint8Array;
  safetyNumber: string;
  /** Oldest first, at most MAX_IDENTITY_CHANGES. */
  changes: IdentityChange[];
}

/** A peer's identity change as a line of one chat's history. */
export interface IdentityNotice {
  cyphrId: string;
  userId: string;
  safetyNumber: string;
  at: Date;
  /** The notice goes after the message with this seq (0: before every message). */
  afterSeq: bigint;
}

interface Stored {
  userId: string;
  cyphrId: string;
  identityKey: string;
  safetyNumber: string;
  changes: { at: number; identityKey: string; safetyNumber: string; chats: { chatId: string; afterSeq: string }[] }[];
}

export class PeerIdentities {
  constructor(private readonly store: Store) {}

  async get(cyphrId: string): Promise<PeerIdentity | undefined> {
    const bytes = await this.store.get(PREFIX + cyphrId);
    if (!bytes) return undefined;
    const s = decodeJson<Stored>(bytes);
    return {
      userId: s.userId,
      cyphrId: s.cyphrId,
      identityKey: fromHex(s.identityKey),
      safetyNumber: s.safetyNumber,
      changes: s.changes.map((c) => ({
        at: new Date(c.at),
        identityKey: fromHex(c.identityKey),
        safetyNumber: c.safetyNumber,
        chats: c.chats.map((x) => ({ chatId: x.chatId, afterSeq: BigInt(x.afterSeq) })),
      })),
    };
  }

  /** Records a verified new identity key of a peer (identity_changed) as the current one, and the change. */
  async recordChange(peer: { userId: string; cyphrId: string }, change: IdentityChange): Promise<PeerIdentity> {
    const earlier = (await this.get(peer.cyphrId))?.changes ?? [];
    return this.save({
      ...peer,
      identityKey: change.identityKey,
      safetyNumber: change.safetyNumber,
      changes: [...earlier, change].slice(-MAX_IDENTITY_CHANGES),
    });
  }

  /**
   * Records a change a later one superseded (an identity_changed whose key the server no longer
   * has) as history only: the current key stays, or is this one when none was stored yet (until
   * the newer change is recorded).
   */
  async recordSuperseded(peer: { userId: string; cyphrId: string }, change: IdentityChange): Promise<PeerIdentity> {
    const earlier = await this.get(peer.cyphrId);
    const current = earlier ?? { identityKey: change.identityKey, safetyNumber: change.safetyNumber };
    return this.save({
      ...peer,
      identityKey: current.identityKey,
      safetyNumber: current.safetyNumber,
      changes: [...(earlier?.changes ?? []), change].slice(-MAX_IDENTITY_CHANGES),
    });
  }

  private async save(next: PeerIdentity): Promise<PeerIdentity> {
    const stored: Stored = {
      userId: next.userId,
      cyphrId: next.cyphrId,
      identityKey: toHex(next.identityKey),
      safetyNumber: next.safetyNumber,
      changes: next.changes.map((c) => ({
        at: c.at.getTime(),
        identityKey: toHex(c.identityKey),
        safetyNumber: c.safetyNumber,
        chats: c.chats.map((x) => ({ chatId: x.chatId, afterSeq: x.afterSeq.toString() })),
      })),
    };
    await this.store.set(PREFIX + next.cyphrId, encodeJson(stored));
    return next;
  }

  /** Every recorded identity change of a peer in one chat, in the order they happened. */
  async noticesIn(chatId: string): Promise<IdentityNotice[]> {
    const notices: IdentityNotice[] = [];
    for (const key of await this.store.keys(PREFIX)) {
      const peer = await this.get(key.slice(PREFIX.length));
      for (const c of peer?.changes ?? []) {
        const where = c.chats.find((x) => x.chatId === chatId);
        if (peer && where) notices.push({ cyphrId: peer.cyphrId, userId: peer.userId, safetyNumber: c.safetyNumber, at: c.at, afterSeq: where.afterSeq });
      }
    }
    return notices.sort((a, b) => (a.afterSeq === b.afterSeq ? a.at.getTime() - b.at.getTime() : a.afterSeq < b.afterSeq ? -1 : 1));
  }
}
