import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { MessageType, SendMessageRequestSchema } from "../gen/cyphr/messaging/v1/messaging_pb.js";
import { ConnectRequestSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";

/**
 * The load generator's protobuf on its hot paths: request bytes assembled around a
 * pre-encoded constant part, and server frames read only as far as a measurement needs (the
 * event's kind and the ids in it), never as whole message objects. Field numbers are those of
 * proto/cyphr/realtime/v1/realtime.proto and messaging.proto; frame-codec.spec.ts checks every
 * encoder against toBinary and every reader against fromBinary.
 */

/** ServerFrame's event field numbers the load generator looks at. */
export const FrameEvent = { messageNew: 3, caughtUp: 13, sendResult: 14 } as const;

/** What the load generator reads of one ServerFrame. */
export interface FrameFacts {
  /** The field number of the event set (FrameEvent), 0 when none. */
  event: number;
  /** message_new: the message's client_message_id; send_result: the answered send's. */
  clientMessageId: string;
  /** send_result: the request_id it answers. */
  requestId: string;
  /** send_result: the send failed (its error is set). */
  failed: boolean;
  /** send_result: the error's code (Code numbers). */
  errorCode: number;
  errorMessage: string;
}

type SendInit = MessageInitShape<typeof SendMessageRequestSchema>;

/**
 * A SendMessageRequest without its client_message_id, encoded once: each send appends its
 * own id field to these bytes (fields may come in any order on the wire).
 */
export function encodeSendConstant(destination: SendInit["destination"], payload: SendInit["payload"]): Uint8Array {
  return toBinary(SendMessageRequestSchema, create(SendMessageRequestSchema, { destination, payload, messageType: MessageType.TEXT }));
}

/** gRPC envelope header: flags byte and 4-byte big-endian length. */
const ENVELOPE_BYTES = 5;
const TAG_REQUEST_ID = 0x0a; // field 1, length-delimited (ClientFrame.request_id, ConnectRequest.frame)
const TAG_SEND_MESSAGE = 0x3a; // ClientFrame field 7, length-delimited
const TAG_CLIENT_MESSAGE_ID = 0x1a; // SendMessageRequest field 3, length-delimited

const varintSize = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
}

/** Writes tag, length and the string's UTF-8 bytes; returns the next offset. */
function writeString(out: Buffer, at: number, tag: number, text: string, bytes: number): number {
  out[at++] = tag;
  at = writeVarint(out, at, bytes);
  return at + out.write(text, at, "utf8");
}

function withEnvelope(bodyBytes: number): Buffer {
  const out = Buffer.allocUnsafe(ENVELOPE_BYTES + bodyBytes);
  out[0] = 0;
  out.writeUInt32BE(bodyBytes, 1);
  return out;
}

/** One enveloped SendMessageRequest (a unary call's whole body): the constant part and this send's client_message_id. */
export function envelopedSendRequest(constant: Uint8Array, clientMessageId: string): Buffer {
  const idBytes = Buffer.byteLength(clientMessageId);
  const out = withEnvelope(constant.length + 1 + varintSize(idBytes) + idBytes);
  out.set(constant, ENVELOPE_BYTES);
  writeString(out, ENVELOPE_BYTES + constant.length, TAG_CLIENT_MESSAGE_ID, clientMessageId, idBytes);
  return out;
}

/** One enveloped ConnectRequest{frame: ClientFrame{request_id, send_message}}, written in one buffer with no intermediate copies. */
export function envelopedSendFrame(constant: Uint8Array, requestId: string, clientMessageId: string): Buffer {
  const idBytes = Buffer.byteLength(clientMessageId);
  const requestBytes = Buffer.byteLength(requestId);
  const send = constant.length + 1 + varintSize(idBytes) + idBytes;
  const frame = 1 + varintSize(requestBytes) + requestBytes + 1 + varintSize(send) + send;
  const out = withEnvelope(1 + varintSize(frame) + frame);
  let at = ENVELOPE_BYTES;
  out[at++] = TAG_REQUEST_ID;
  at = writeVarint(out, at, frame);
  at = writeString(out, at, TAG_REQUEST_ID, requestId, requestBytes);
  out[at++] = TAG_SEND_MESSAGE;
  at = writeVarint(out, at, send);
  out.set(constant, at);
  writeString(out, at + constant.length, TAG_CLIENT_MESSAGE_ID, clientMessageId, idBytes);
  return out;
}

/** One enveloped ConnectRequest{frame: ClientFrame{hello}}: the first message of every stream. */
export function envelopedHello(resumeCursor?: bigint): Buffer {
  const body = toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { frame: { frame: { case: "hello", value: { resumeCursor } } } }));
  const out = withEnvelope(body.length);
  out.set(body, ENVELOPE_BYTES);
  return out;
}

/** Reads a ConnectResponse (or SubscribeResponse: the same field 1) as far as FrameFacts go. */
export function readServerFrame(response: Uint8Array): FrameFacts {
  const facts: FrameFacts = { event: 0, clientMessageId: "", requestId: "", failed: false, errorCode: 0, errorMessage: "" };
  const outer = new BinaryReader(response);
  while (outer.pos < outer.len) {
    const [field, type] = outer.tag();
    if (field === 1 && type === WireType.LengthDelimited) readFrame(outer.bytes(), facts);
    else outer.skip(type, field);
  }
  return facts;
}

function readFrame(bytes: Uint8Array, facts: FrameFacts): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field >= 3 && field <= 16) facts.event = field;
    if (field === FrameEvent.messageNew && type === WireType.LengthDelimited) readMessage(r.bytes(), facts);
    else if (field === FrameEvent.sendResult && type === WireType.LengthDelimited) readSendResult(r.bytes(), facts);
    else r.skip(type, field);
  }
}

/** cyphr.messaging.v1.Message: client_message_id is field 6. */
function readMessage(bytes: Uint8Array, facts: FrameFacts): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 6 && type === WireType.LengthDelimited) facts.clientMessageId = r.string();
    else r.skip(type, field);
  }
}

/** SendResult: request_id 1, client_message_id 2, response 3, error 4 (Status: code 1, message 2). */
function readSendResult(bytes: Uint8Array, facts: FrameFacts): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.LengthDelimited) facts.requestId = r.string();
    else if (field === 2 && type === WireType.LengthDelimited) facts.clientMessageId = r.string();
    else if (field === 4 && type === WireType.LengthDelimited) {
      facts.failed = true;
      readStatus(r.bytes(), facts);
    } else r.skip(type, field);
  }
}

function readStatus(bytes: Uint8Array, facts: FrameFacts): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.Varint) facts.errorCode = r.int32();
    else if (field === 2 && type === WireType.LengthDelimited) facts.errorMessage = r.string();
    else r.skip(type, field);
  }
}
