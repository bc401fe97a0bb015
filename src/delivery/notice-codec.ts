import { randomUUID } from "node:crypto";
import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import type { DurableKind, EventData } from "../events/model.js";
import { type ServerFrame, ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { type EphemeralNotice, MAX_NOTIFY_BYTES, type Notice, type RevokeNotice } from "./notice.js";

/**
 * The notices' wire form: the only place that knows the compact JSON keys. Durable notices
 * are written in SQL by cyphr_record_events with the same keys (its header comment;
 * test/delivery-event-log.test.ts decodes what it writes).
 */
type WireNotice =
  | { t: "d"; k: number; c: string; s: number | null; d: EventData | null; at: number; m: string | null; ex: number | null; u: [string, number][] }
  | { t: "x"; f: JsonValue; u: string[]; only?: string; except?: string }
  | { t: "r"; u: string; s: string };
/** One piece of a notice too large for a single NOTIFY. */
type ChunkNotice = { t: "c"; id: string; i: number; n: number; p: string };

/** How long the pieces of a chunked notice wait for the rest. */
const CHUNK_TTL_MS = 30_000;

/**
 * NOTIFY payloads for a notice: split between its users until each fits MAX_NOTIFY_BYTES,
 * chunked when it cannot be split (one user, a large call offer).
 */
export function encodeNotice(notice: EphemeralNotice | RevokeNotice): string[] {
  return notice.type === "revoke" ? [JSON.stringify({ t: "r", u: notice.userId, s: notice.sessionId })] : encodeEphemeral(toWire(notice));
}

function toWire(notice: EphemeralNotice): Extract<WireNotice, { t: "x" }> {
  return {
    t: "x",
    f: toJson(ServerFrameSchema, notice.frame),
    u: notice.users,
    ...(notice.onlySession !== undefined && { only: notice.onlySession }),
    ...(notice.exceptSession !== undefined && { except: notice.exceptSession }),
  };
}

function encodeEphemeral(wire: Extract<WireNotice, { t: "x" }>): string[] {
  const text = JSON.stringify(wire);
  if (Buffer.byteLength(text) <= MAX_NOTIFY_BYTES) return [text];
  if (wire.u.length > 1) {
    const half = Math.ceil(wire.u.length / 2);
    return [...encodeEphemeral({ ...wire, u: wire.u.slice(0, half) }), ...encodeEphemeral({ ...wire, u: wire.u.slice(half) })];
  }
  const id = randomUUID();
  // A piece is JSON-escaped again and sent as UTF-8: at most 3 bytes per UTF-16 unit (a quote
  // becomes \", a CJK character 3 bytes; a pair cut in two is 6 bytes, at the ends only),
  // leaving 200 bytes for the chunk's own keys.
  const size = Math.floor((MAX_NOTIFY_BYTES - 200) / 3);
  const parts: string[] = [];
  for (let offset = 0; offset < text.length; offset += size) parts.push(text.slice(offset, offset + size));
  return parts.map((p, i) => JSON.stringify({ t: "c", id, i, n: parts.length, p } satisfies ChunkNotice));
}

/** Reads NOTIFY payloads back into notices, reassembling chunked ones. One per LISTEN connection. */
export class NoticeDecoder {
  private readonly chunks = new Map<string, { parts: string[]; received: number; at: number }>();

  /** The notice, or undefined while a chunked notice is incomplete; throws on a payload that is no notice. */
  decode(payload: string): Notice | undefined {
    const wire = JSON.parse(payload) as WireNotice | ChunkNotice;
    if (wire.t === "c") {
      const whole = this.assemble(wire);
      return whole === undefined ? undefined : this.decode(whole);
    }
    switch (wire.t) {
      case "d":
        return {
          type: "durable",
          kind: wire.k as DurableKind,
          chatId: wire.c,
          seq: wire.s,
          data: wire.d,
          at: new Date(wire.at),
          sent: wire.m == null ? undefined : { messageId: wire.m, expiresAt: wire.ex == null ? null : new Date(wire.ex) },
          recipients: wire.u,
        };
      case "x": {
        // Decoded when first read: an instance with no stream of these users never needs the frame.
        const json = wire.f;
        let frame: ServerFrame | undefined;
        return {
          type: "ephemeral",
          get frame() {
            return (frame ??= fromJson(ServerFrameSchema, json));
          },
          users: wire.u,
          ...(wire.only !== undefined && { onlySession: wire.only }),
          ...(wire.except !== undefined && { exceptSession: wire.except }),
        };
      }
      case "r":
        return { type: "revoke", userId: wire.u, sessionId: wire.s };
      default:
        throw new Error(`unknown notice type ${JSON.stringify((wire as { t: unknown }).t)}`);
    }
  }

  private assemble(chunk: ChunkNotice): string | undefined {
    const now = Date.now();
    for (const [id, entry] of this.chunks) if (now - entry.at > CHUNK_TTL_MS) this.chunks.delete(id);
    let entry = this.chunks.get(chunk.id);
    if (!entry) this.chunks.set(chunk.id, (entry = { parts: new Array<string>(chunk.n), received: 0, at: now }));
    if (entry.parts[chunk.i] === undefined) entry.received++;
    entry.parts[chunk.i] = chunk.p;
    if (entry.received < chunk.n) return undefined;
    this.chunks.delete(chunk.id);
    return entry.parts.join("");
  }
}
