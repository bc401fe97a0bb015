/**
 * The typed events of the SDK's realtime stream (Live): what an application receives after the SDK
 * handled the server's frames (messages decrypted by the MLS engine, Welcomes accepted, key packages
 * topped up, new devices of chat peers added). Plain data: every field is already decoded.
 */
import type { CyphrError } from "../errors.js";
import type { UnreadableReason } from "../mls/history.js";

/** Who sent a message. */
export interface Sender {
  userId: string;
  cyphrId: string;
  /**
   * Decrypted messages of others: the sending device, from its MLS credential (with `cyphrId`, what
   * the message's signature proves). Unset for this device's own messages and for unreadable ones.
   */
  deviceId?: number;
}

interface MessageCommon {
  chatId: string;
  /** The message's position in its chat (1, 2, 3, …). */
  seq: bigint;
  messageId: string;
  sender: Sender;
  /** The sender's client_message_id (their retry key). */
  clientMessageId: string;
  /** When the server stored the message. */
  sentAt: Date;
  /** Sent by this device (the SDK kept its plaintext when sending). */
  own: boolean;
}

/** A new application message, decrypted. */
export interface MessageEvent extends MessageCommon {
  kind: "message";
  /** "text": `text` is set (UTF-8 of `bytes`); "bytes": only `bytes`. */
  contentType: "text" | "bytes";
  text?: string;
  bytes: Uint8Array;
}

/** A message whose payload was replaced; `text`/`bytes` is the new content. */
export interface EditedEvent extends MessageCommon {
  kind: "edited";
  contentType: "text" | "bytes";
  text?: string;
  bytes: Uint8Array;
  editedAt: Date;
}

/** A message deleted for everyone (the SDK dropped its plaintext). */
export interface DeletedEvent {
  kind: "deleted";
  chatId: string;
  seq: bigint;
  messageId: string;
  deletedAt: Date;
}

/**
 * A message (new or edited) this device cannot read: sent before it joined (`before_join`), not
 * decryptable for its epochs (`undecryptable`), its own whose plaintext it no longer has
 * (`sent_by_this_device`), or in a chat it has no MLS state for (`no_state`).
 */
export interface UnreadableEvent extends MessageCommon {
  kind: "unreadable";
  reason: UnreadableReason | "no_state";
}

/** A member's delivery and read positions moved (their own devices included). */
export interface ReceiptEvent {
  kind: "receipt";
  chatId: string;
  userId: string;
  cyphrId: string;
  /** They received every message up to this seq. */
  deliveredSeq: bigint;
  /** They read every message up to this seq. */
  readSeq: bigint;
}

/** A chat member started or stopped typing (the server ends a start after 10 s without refresh). */
export interface TypingEvent {
  kind: "typing";
  chatId: string;
  userId: string;
  cyphrId: string;
  typing: boolean;
}

/** A chat peer came online or went offline (only peers who share presence). */
export interface PresenceEvent {
  kind: "presence";
  userId: string;
  cyphrId: string;
  online: boolean;
  /** When they went offline; unset while online. */
  lastSeen?: Date;
}

/**
 * Something about a chat changed:
 * - `joined`: this device joined the chat's MLS group from a Welcome (a new chat, an addition, a new device);
 * - `members`: members were added, removed, left, or changed role (`change` says who and how);
 * - `updated`: the group's encrypted name or settings changed;
 * - `timer`: the disappearing-message timer changed (`timerSeconds`, 0 = off).
 */
export interface ChatEvent {
  kind: "chat";
  chatId: string;
  change: "joined" | "members" | "updated" | "timer";
  /** The seq of the commit (joined) or system message (the others) recording it. */
  seq: bigint;
  /** For `members`: what happened, by whom (actor), about whom (target). */
  member?: {
    action: "created" | "added" | "removed" | "left" | "role_changed";
    actor?: Sender;
    target?: Sender;
    role?: "member" | "admin";
  };
  /** For `timer`: seconds after sending that new messages disappear; 0 = off. */
  timerSeconds?: number;
  /**
   * For `joined`: true when the chat is a message request for this user (someone they have not
   * accepted started it or added them). Until `acceptChat` (or sending in it) nothing of theirs
   * (receipts, typing, presence) reaches the others; `declineChat` removes it.
   */
  request?: boolean;
  /**
   * For `members` (left or removed): the users whose MLS leaves this device removed, when it was
   * the one to act (see docs/sdk.md); their devices cannot read the group's next epochs.
   */
  removedLeavesOf?: string[];
}

/**
 * An account's device list changed (this account's or a chat peer's). When this device is the one
 * that updates a shared chat (see docs/sdk.md), `added`/`removed` name the devices it added to or
 * removed from MLS groups, per chat.
 */
export interface DevicesChangedEvent {
  kind: "devices_changed";
  userId: string;
  cyphrId: string;
  updatedChats: { chatId: string; added: number[]; removed: number[] }[];
}

/**
 * A chat peer's identity key changed: they recovered their account with its recovery phrase, their
 * old devices are gone, and their safety number with this account changed (show it; the users can
 * compare the new number out of band). The SDK checked the new key against the server's device
 * list, stored it (PeerIdentities: `noticesIn(chat)` places the change in history), and updated the
 * shared chats' MLS groups to the new device list (`updatedChats`, as for devices_changed).
 */
export interface IdentityChangedEvent {
  kind: "identity_changed";
  userId: string;
  cyphrId: string;
  /** The new Ed25519 identity public key (32 bytes). */
  identityKey: Uint8Array;
  /** The new safety number of this account and theirs (safety-number.ts). */
  safetyNumber: string;
  /** The chats this device shares with them. */
  chatIds: string[];
  updatedChats: { chatId: string; added: number[]; removed: number[] }[];
}

/** The server told this device its one-time key packages run low; the SDK uploaded `uploaded` more. */
export interface KeyPackagesEvent {
  kind: "key_packages";
  uploaded: number;
}

export type CallSignalType = "offer" | "answer" | "ice_candidate" | "reject" | "busy" | "end" | "answered_elsewhere";

/** WebRTC call signaling, passed through (SDP and ICE payloads are opaque to the SDK and the server). */
export interface CallSignal {
  /** The call (UUID), chosen by the caller in the offer. */
  callId: string;
  type: CallSignalType;
  /** The chat (UUID): required in offers; set by the server on signals it delivers. */
  chatId: string;
  /** SDP or an ICE candidate: at most 65,536 bytes; empty for reject, busy and end. */
  payload: Uint8Array;
  /** Offers: whether video is offered. */
  video: boolean;
  /** END from the server: why ("missed", "completed", "rejected", "busy", "cancelled", "failed"). */
  reason: string;
  /** Set by the server on delivered signals: the sender. */
  from?: Sender;
}

export interface CallEvent {
  kind: "call";
  signal: CallSignal;
}

/**
 * The stream's state:
 * - `connecting`: opening a stream (attempt 1 at start, then after each `reconnecting`);
 * - `live`: the stream is open and replays what happened since the stored cursor;
 * - `caught_up`: the replay is complete, events are live (`resyncRequired`: the server no longer had
 *   every event since the cursor; the SDK processed every chat's history again, and the app should
 *   reload what it shows);
 * - `reconnecting`: the stream ended (`error` says why) and opens again after `delayMs` (attempt n);
 * - `closed`: close() was called, or a failure that retrying cannot fix (`error`: unauthenticated,
 *   permission_denied, …).
 */
export type LiveState =
  | { state: "connecting"; attempt: number }
  | { state: "live" }
  | { state: "caught_up"; cursor: bigint; resyncRequired: boolean }
  | { state: "reconnecting"; attempt: number; delayMs: number; error: CyphrError }
  | { state: "closed"; error?: CyphrError };

export type StateEvent = { kind: "state" } & LiveState;

/**
 * Something failed while handling one event (a Welcome that does not apply, a commit for a new
 * device refused, …). The stream goes on; `chatId` and `cursor` say which event when known.
 */
export interface ErrorEvent {
  kind: "error";
  error: CyphrError;
  chatId?: string;
  cursor?: bigint;
}

export type LiveEvent =
  | MessageEvent
  | EditedEvent
  | DeletedEvent
  | UnreadableEvent
  | ReceiptEvent
  | TypingEvent
  | PresenceEvent
  | ChatEvent
  | DevicesChangedEvent
  | IdentityChangedEvent
  | KeyPackagesEvent
  | CallEvent
  | StateEvent
  | ErrorEvent;

export type LiveEventKind = LiveEvent["kind"];

/** The event type of one kind: `EventOf<"message">` is MessageEvent. */
export type EventOf<K extends LiveEventKind> = Extract<LiveEvent, { kind: K }>;

export type Listener<K extends LiveEventKind> = (event: EventOf<K>) => void;

/** What Live.sendCallSignal takes: the caller's side of a CallSignal. */
export interface OutgoingCallSignal {
  callId: string;
  type: Exclude<CallSignalType, "busy" | "answered_elsewhere">;
  /** Required in offers. */
  chatId?: string;
  payload?: Uint8Array;
  video?: boolean;
}
