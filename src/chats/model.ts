/** Chat kinds and member roles as stored (smallint) and as the API numbers them. */
export const ChatKind = { direct: 1, group: 2 } as const;
export type ChatKind = (typeof ChatKind)[keyof typeof ChatKind];

/** How a chat's messages are encrypted, as stored (chats.protocol) and as cyphr.messaging.v1.ChatProtocol numbers it. */
export const ChatProtocol = { opaque: 1, mls: 2 } as const;
export type ChatProtocol = (typeof ChatProtocol)[keyof typeof ChatProtocol];

export const Role = { member: 1, admin: 2 } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Why a membership ended (values match cyphr.messaging.v1.MembershipState). */
export const LeftReason = { left: 2, removed: 3 } as const;
export type LeftReason = (typeof LeftReason)[keyof typeof LeftReason];

/** Values match cyphr.messaging.v1.SystemEventKind. */
export const SystemEventKind = {
  groupCreated: 1,
  groupUpdated: 2,
  memberAdded: 3,
  memberRemoved: 4,
  memberLeft: 5,
  roleChanged: 6,
  timerChanged: 7,
  callEnded: 8,
} as const;
export type SystemEventKind = (typeof SystemEventKind)[keyof typeof SystemEventKind];

/** A change recorded as a system message in the chat. Metadata only, never content. */
export interface SystemEvent {
  kind: SystemEventKind;
  actorUserId: string;
  targetUserId?: string;
  role?: Role;
  timerSeconds?: number;
  groupVersion?: number;
  call?: { id: string; outcome: string; durationSeconds: number; video: boolean };
}

/** MessageType.SYSTEM: written by the server only. */
export const SYSTEM_MESSAGE_TYPE = 5;
/** cyphr.messaging.v1.MessageType.MLS_COMMIT: written only by src/mls-chats; commits stay as sent (no edit). */
export const MLS_COMMIT_MESSAGE_TYPE = 8;

/** The caller's membership of a chat, with what the chat needs for authorization. */
export interface Membership {
  chatId: string;
  kind: ChatKind;
  userId: string;
  role: Role;
  joinedSeq: number;
  /** Last readable seq once the membership ended; null while active. */
  leftSeq: number | null;
  leftReason: LeftReason | null;
  deliveredSeq: number;
  readSeq: number;
}

export const isActive = (m: Membership): boolean => m.leftSeq === null;
