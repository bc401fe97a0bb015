import type { Role, SystemEventKind } from "../chats/model.js";
import type { EncryptedPayload } from "./payload.js";

/** A system message's event, with the Cyphr IDs of the users it names. */
export interface SystemEventView {
  kind: SystemEventKind;
  actorUserId: string;
  actorCyphrId: string;
  targetUserId: string | null;
  targetCyphrId: string | null;
  role: Role | null;
  timerSeconds: number | null;
  groupVersion: number | null;
  call: { id: string; outcome: string; durationSeconds: number; video: boolean } | null;
}

/** How far a message got; present only on the viewer's own messages. */
export interface ReceiptView {
  recipientCount: number;
  deliveredCount: number;
  readCount: number;
}

/** A message as history shows it. `payload` is null for tombstones and system messages. */
export interface StoredMessage {
  id: string;
  chatId: string;
  seq: number;
  senderUserId: string | null;
  senderCyphrId: string | null;
  clientMessageId: string | null;
  messageType: number;
  payload: EncryptedPayload | null;
  systemEvent: SystemEventView | null;
  createdAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
  expiresAt: Date | null;
  receipts: ReceiptView | null;
}
