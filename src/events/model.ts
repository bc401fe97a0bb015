/** Kinds of durable per-user events, as stored in events.kind. */
export const DurableKind = {
  messageNew: 1,
  messageEdited: 2,
  messageDeleted: 3,
  receipt: 4,
  groupChanged: 5,
  chatTimerChanged: 6,
  /** An account's device list changed (chat_id NULL; data.user / data.cyphrId name the account). */
  devicesChanged: 7,
  /** One of the account's devices runs low on one-time MLS key packages (chat_id NULL; data.device, data.suite, data.count). */
  keyPackagesLow: 8,
  /** A Welcome into an MLS chat for one device of the recipient (seq: the commit's; data.device, data.request). */
  mlsWelcome: 9,
  /** An account's identity key was replaced by RecoverAccount (chat_id NULL; data.user, data.cyphrId, data.identityKey). */
  identityChanged: 10,
} as const;
export type DurableKind = (typeof DurableKind)[keyof typeof DurableKind];

/** Small metadata stored with an event (no content: messages are referenced by chat and seq). */
export interface EventData {
  /** receipt: whose positions moved */
  user?: string;
  cyphrId?: string;
  delivered?: number;
  read?: number;
  /** chatTimerChanged */
  timer?: number;
  actor?: string;
  /** keyPackagesLow: which device, which ciphersuite (RFC 9420 code point), how many one-time packages it has left */
  device?: number;
  suite?: number;
  count?: number;
  /** mlsWelcome: the chat is a message request for the recipient (cyphr.privacy.v1) */
  request?: boolean;
  /** identityChanged: the new identity public key, base64 */
  identityKey?: string;
}

/** One durable event to record for several recipients, inside the change's transaction. */
export interface NewDurableEvent {
  kind: DurableKind;
  /** Null for account events (devices_changed). */
  chatId: string | null;
  /** The message the event is about (or the system message recording the change). */
  seq: number | null;
  data: EventData | null;
  recipients: readonly string[];
}

/** A durable event as one user receives it. */
export interface DurableEvent {
  userId: string;
  cursor: number;
  kind: DurableKind;
  chatId: string;
  seq: number | null;
  data: EventData | null;
  createdAt: Date;
}
