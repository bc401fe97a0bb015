import type { DurableKind, EventData } from "../events/model.js";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";

/**
 * What instances tell each other over PostgreSQL's LISTEN/NOTIFY, in readable form. On the
 * wire a notice is compact JSON (src/delivery/notice-codec.ts owns the keys; durable notices
 * are written by cyphr_record_events in SQL, migrations/0007_event_log_writer.sql). Payloads
 * are references (ids, cursors, small metadata), never ciphertext.
 */

/** The one channel every instance listens on. */
export const EVENTS_CHANNEL = "cyphr_events";
/** Largest payload one NOTIFY carries (PostgreSQL refuses 8,000 bytes and more). */
export const MAX_NOTIFY_BYTES = 7_500;
/**
 * Recipients per durable notice (cyphr_record_events takes it as a parameter): 100 pairs of
 * a user id and a 19-digit cursor are under 6,500 bytes, so the notice fits MAX_NOTIFY_BYTES
 * with its small metadata.
 */
export const MAX_RECIPIENTS_PER_NOTICE = 100;

/** A durable event was committed for some recipients: [user id, cursor] pairs. */
export interface DurableNotice {
  type: "durable";
  kind: DurableKind;
  chatId: string;
  seq: number | null;
  data: EventData | null;
  /** Commit time (for message_new: the message's created_at). */
  at: Date;
  /** A message_new written by a send: the message, so the sending instance can deliver it from memory. */
  sent: { messageId: string; expiresAt: Date | null } | undefined;
  recipients: [userId: string, cursor: number][];
}

/** An ephemeral frame (typing, presence, call signal) for the streams of some users. */
export interface EphemeralNotice {
  type: "ephemeral";
  frame: ServerFrame;
  users: string[];
  /** Only the streams of this session. */
  onlySession?: string;
  /** Not the streams of this session. */
  exceptSession?: string;
}

/** End the streams of a revoked session. */
export interface RevokeNotice {
  type: "revoke";
  userId: string;
  sessionId: string;
}

export type Notice = DurableNotice | EphemeralNotice | RevokeNotice;
