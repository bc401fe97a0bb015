import { create, toBinary } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { type Message, MessageSchema } from "../../gen/cyphr/messaging/v1/messaging_pb.js";
import { type SendResult, type ServerFrame, SubscribeResponseSchema } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import { envelope, envelopeOf, HEADER_BYTES } from "./envelopes.js";
import {
  lenFieldSize,
  lenTag,
  plainSeconds,
  stringFieldSize,
  timestampBodySize,
  varintFieldSize,
  writeBytesField,
  writeStringField,
  writeTimestampField,
  writeVarint,
  writeVarintField,
} from "./proto-writer.js";

/** Field numbers (realtime.proto, messaging.proto). */
const FRAME = 1; // ConnectResponse / SubscribeResponse.frame
const CURSOR = 1;
const TIME = 2;
const MESSAGE_CASES = { messageNew: 3, messageEdited: 4, messageDeleted: 5 } as const;
const SEND_RESULT = 14;

/**
 * Encoded Messages, by the Message object: every recipient's frame of one notice shares its
 * Message (src/delivery/durable-frames.ts), so a message fanned out to N streams is encoded once, not
 * N times. Weak: an entry lives as long as some frame still holds its Message.
 */
const encodedMessages = new WeakMap<Message, Uint8Array>();

/**
 * A frame as ConnectResponse / SubscribeResponse carry it (both are `ServerFrame frame = 1`,
 * so one encoding serves both), enveloped for the wire (flags 0, length). The two frames
 * every message brings, its delivery and the sender's send_result, are written in one pass
 * into one buffer, byte for byte as toBinary would write them (src/realtime/h2/proto-writer.ts:
 * protobuf-es's writer copies each nested message once per level and was a sixth of the
 * server's time per message); a message's own encoding is made once for all its
 * recipients. Every other frame, and any value outside the plain ranges, is encoded by toBinary.
 */
export function encodeFrameEnvelope(frame: ServerFrame): Buffer {
  const cursor = safe(frame.cursor);
  const time = frame.time ? timeOf(frame.time) : null;
  const event = frame.event;
  if (cursor !== undefined && time !== undefined && known(frame)) {
    if (event.case === "messageNew" || event.case === "messageEdited" || event.case === "messageDeleted") {
      return messageFrame(cursor, time, MESSAGE_CASES[event.case], encodedMessage(event.value));
    }
    if (event.case === "sendResult") {
      const written = sendResultFrame(cursor, time, event.value);
      if (written) return written;
    }
  }
  return envelope(0, toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { frame })));
}

interface PlainTime {
  seconds: number;
  nanos: number;
  body: number;
}

/** A timestamp's parts and body size; undefined when outside the plain range. */
function timeOf(ts: Timestamp): PlainTime | undefined {
  const seconds = plainSeconds(ts);
  if (seconds === undefined || !uint(ts.nanos, INT32_MAX) || !known(ts)) return undefined;
  return { seconds, nanos: ts.nanos, body: timestampBodySize(seconds, ts.nanos) };
}

const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

/** A uint64 as a number when it is one exactly (0 ≤ n < 2^53). */
const safe = (n: bigint) => (n >= 0n && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined);

/** An integer in 0..max: what the fast path writes; anything else (negative, fractional, too large) goes to toBinary. */
const uint = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;

/** No unknown fields to carry (toBinary writes them; the fast path does not). */
const known = (m: { $unknown?: unknown[] }) => !m.$unknown?.length;

function encodedMessage(message: Message): Uint8Array {
  let bytes = encodedMessages.get(message);
  if (!bytes) {
    bytes = plainMessage(message) ?? toBinary(MessageSchema, message);
    encodedMessages.set(message, bytes);
  }
  return bytes;
}

/**
 * A chat message as toBinary writes it (messaging.proto's Message, fields 1–13 and the
 * EncryptedPayload); undefined for a system message, one carrying receipts, or any value
 * outside the plain ranges, which toBinary encodes.
 */
function plainMessage(m: Message): Uint8Array | undefined {
  const seq = safe(m.seq);
  if (m.systemEvent || m.receipts || seq === undefined || !uint(m.messageType, INT32_MAX) || !known(m) || (m.payload && !known(m.payload))) return undefined;
  const times = [m.createdAt, m.editedAt, m.deletedAt, m.expiresAt].map((ts) => (ts ? timeOf(ts) : null));
  if (times.includes(undefined)) return undefined;
  const strings = [m.messageId, m.chatId, m.senderUserId, m.senderCyphrId, m.clientMessageId];
  const lengths = strings.map((text) => Buffer.byteLength(text, "utf8"));
  const p = m.payload;
  const payloadBytes = p ? [p.kemCiphertext, p.ciphertext, p.nonce, p.tag, p.header] : [];
  const payloadSize = payloadBytes.reduce((size, bytes) => size + (bytes.length === 0 ? 0 : lenFieldSize(bytes.length)), 0);
  let size = varintFieldSize(seq) + varintFieldSize(m.messageType) + (p ? lenFieldSize(payloadSize) : 0) + (m.deleted ? 2 : 0);
  for (const length of lengths) size += stringFieldSize(length);
  for (const time of times) if (time) size += lenFieldSize(time.body);
  const out = Buffer.allocUnsafe(size);
  let pos = writeStringField(out, 0, 1, strings[0]!, lengths[0]!);
  pos = writeStringField(out, pos, 2, strings[1]!, lengths[1]!);
  pos = writeVarintField(out, pos, 3, seq);
  for (let i = 2; i < 5; i++) pos = writeStringField(out, pos, i + 2, strings[i]!, lengths[i]!);
  pos = writeVarintField(out, pos, 7, m.messageType);
  if (p) {
    out[pos++] = lenTag(8);
    pos = writeVarint(out, pos, payloadSize);
    payloadBytes.forEach((bytes, i) => {
      if (bytes.length > 0) pos = writeBytesField(out, pos, i + 1, bytes);
    });
  }
  times.forEach((time, i) => {
    if (time) pos = writeTimestampField(out, pos, 9 + i, time.seconds, time.nanos);
  });
  writeVarintField(out, pos, 13, m.deleted ? 1 : 0);
  return out;
}

/** An envelope holding SubscribeResponse{frame: F} for a frame body of `frameSize` bytes; the position F starts at. */
function frameEnvelope(frameSize: number): { out: Buffer; pos: number } {
  const out = envelopeOf(0, lenFieldSize(frameSize));
  out[HEADER_BYTES] = lenTag(FRAME);
  return { out, pos: writeVarint(out, HEADER_BYTES + 1, frameSize) };
}

/** The frame's cursor and time fields. */
const headSize = (cursor: number, time: PlainTime | null) => varintFieldSize(cursor) + (time ? lenFieldSize(time.body) : 0);

function writeHead(out: Buffer, pos: number, cursor: number, time: PlainTime | null): number {
  pos = writeVarintField(out, pos, CURSOR, cursor);
  return time ? writeTimestampField(out, pos, TIME, time.seconds, time.nanos) : pos;
}

function messageFrame(cursor: number, time: PlainTime | null, field: number, message: Uint8Array): Buffer {
  const { out, pos } = frameEnvelope(headSize(cursor, time) + lenFieldSize(message.length));
  writeBytesField(out, writeHead(out, pos, cursor, time), field, message);
  return out;
}

/** SendResult { request_id = 1, client_message_id = 2, response = 3, error = 4 }; undefined outside the plain ranges. */
function sendResultFrame(cursor: number, time: PlainTime | null, result: SendResult): Buffer | undefined {
  const requestId = Buffer.byteLength(result.requestId, "utf8");
  const clientMessageId = Buffer.byteLength(result.clientMessageId, "utf8");
  const res = result.response;
  let response: { messageId: number; chatId: number; seq: number; serverTime?: PlainTime; expiresAt?: PlainTime; size: number } | undefined;
  if (!known(result)) return undefined;
  if (res) {
    const seq = safe(res.seq);
    if (seq === undefined || !known(res)) return undefined;
    const serverTime = res.serverTime && timeOf(res.serverTime);
    const expiresAt = res.expiresAt && timeOf(res.expiresAt);
    if ((res.serverTime && !serverTime) || (res.expiresAt && !expiresAt)) return undefined;
    const messageId = Buffer.byteLength(res.messageId, "utf8");
    const chatId = Buffer.byteLength(res.chatId, "utf8");
    const size =
      stringFieldSize(messageId) +
      stringFieldSize(chatId) +
      varintFieldSize(seq) +
      (serverTime ? lenFieldSize(serverTime.body) : 0) +
      (expiresAt ? lenFieldSize(expiresAt.body) : 0) +
      (res.duplicate ? 2 : 0);
    response = { messageId, chatId, seq, serverTime, expiresAt, size };
  }
  const err = result.error;
  let error: { message: number; size: number } | undefined;
  if (err) {
    if (!uint(err.code, INT32_MAX) || !uint(err.retryAfterMs, UINT32_MAX) || !known(err)) return undefined;
    const message = Buffer.byteLength(err.message, "utf8");
    error = { message, size: varintFieldSize(err.code) + stringFieldSize(message) + varintFieldSize(err.retryAfterMs) };
  }
  const bodySize =
    stringFieldSize(requestId) + stringFieldSize(clientMessageId) + (response ? lenFieldSize(response.size) : 0) + (error ? lenFieldSize(error.size) : 0);
  let { out, pos } = frameEnvelope(headSize(cursor, time) + lenFieldSize(bodySize));
  pos = writeHead(out, pos, cursor, time);
  out[pos++] = lenTag(SEND_RESULT);
  pos = writeVarint(out, pos, bodySize);
  pos = writeStringField(out, pos, 1, result.requestId, requestId);
  pos = writeStringField(out, pos, 2, result.clientMessageId, clientMessageId);
  if (res && response) {
    out[pos++] = lenTag(3);
    pos = writeVarint(out, pos, response.size);
    pos = writeStringField(out, pos, 1, res.messageId, response.messageId);
    pos = writeStringField(out, pos, 2, res.chatId, response.chatId);
    pos = writeVarintField(out, pos, 3, response.seq);
    if (response.serverTime) pos = writeTimestampField(out, pos, 4, response.serverTime.seconds, response.serverTime.nanos);
    if (response.expiresAt) pos = writeTimestampField(out, pos, 5, response.expiresAt.seconds, response.expiresAt.nanos);
    pos = writeVarintField(out, pos, 6, res.duplicate ? 1 : 0);
  }
  if (err && error) {
    out[pos++] = lenTag(4);
    pos = writeVarint(out, pos, error.size);
    pos = writeVarintField(out, pos, 1, err.code);
    pos = writeStringField(out, pos, 2, err.message, error.message);
    pos = writeVarintField(out, pos, 3, err.retryAfterMs);
  }
  return out;
}
