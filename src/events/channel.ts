/**
 * The one LISTEN/NOTIFY channel every instance listens on. Payloads are JSON references
 * (ids, cursors, small metadata), never ciphertext, and stay under PostgreSQL's 8,000
 * byte NOTIFY limit by splitting recipient lists and chunking larger bodies.
 */
export const EVENTS_CHANNEL = "cyphr_events";
export const MAX_NOTIFY_BYTES = 7_500;

/** Durable events for some recipients: [user id, cursor] pairs. */
export interface DurableNotice {
  t: "d";
  k: number;
  c: string;
  s: number | null;
  d: Record<string, unknown> | null;
  /** commit time (for message_new: the message's created_at), ms since epoch */
  at: number;
  /** message_new from cyphr_send_batch: the message id, and its expires_at in ms since epoch (null: never) */
  m?: string;
  ex?: number | null;
  u: [string, number][];
}

/** An ephemeral frame (typing, presence, call signal) for some recipients. */
export interface EphemeralNotice {
  t: "x";
  /** ServerFrame in protobuf JSON form. */
  f: unknown;
  u: string[];
  /** only streams of this session */
  only?: string;
  /** not streams of this session */
  except?: string;
}

/** End the streams of a revoked session. */
export interface RevokeNotice {
  t: "r";
  u: string;
  s: string;
}

/** One piece of a notice too large for a single NOTIFY. */
export interface ChunkNotice {
  t: "c";
  id: string;
  i: number;
  n: number;
  p: string;
}

export type Notice = DurableNotice | EphemeralNotice | RevokeNotice;
export type WireNotice = Notice | ChunkNotice;
