import type http2 from "node:http2";
import { create, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  createAsyncIterable,
  createMethodSerializationLookup,
  pipe,
  readAllBytes,
  transformDecompressEnvelope,
  transformParseEnvelope,
  transformSplitEnvelope,
} from "@connectrpc/connect/protocol";
import type { BudgetRefusal, RequestBudget } from "../../transport/request-budget.js";
import { budgetRefusalError } from "../request-budget.js";
import { ENVELOPE_BYTES, oversizeBody } from "../request-checks.js";
import { parseBinaryRequest } from "../unary-decode.js";
import type { UnaryMethodSpec } from "./methods.js";
import type { UnaryRoute } from "./route.js";

/** The request of one unary call, read and decoded once. */
export interface UnaryInput {
  /** The request message (an empty stand-in when refused). */
  message: MessageShape<UnaryMethodSpec["method"]["input"]>;
  /** Refused before the handler (too large, does not decode): raised by the observe interceptor, as on the connect-es path. */
  refusal?: ConnectError;
  /** A framing error connect-es answers without running any interceptor; the same error, found the same way. */
  protocolError?: ConnectError;
}

/**
 * Reads the request body of a unary call from its HTTP/2 stream, holding at most one message
 * (readMaxBytes plus its envelope): a body announced larger is refused without reading it, a
 * body that grows larger is refused once it passes the limit and the rest is dropped. Every
 * refusal carries the words the connect-es path gives (src/rpc/request-checks.ts,
 * unary-decode.ts); rejects when the client resets the stream first. Every chunk is charged to
 * the budget of buffered request bytes (src/transport/request-budget.ts) and returned when the
 * stream closes, however the call ended; a chunk the budget refuses, or a body it takes back
 * while still arriving, refuses the call with RESOURCE_EXHAUSTED and drops what was read.
 */
export function readUnaryInput(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  route: UnaryRoute,
  readMaxBytes: number,
  budget: RequestBudget,
): Promise<UnaryInput> {
  const limit = readMaxBytes + ENVELOPE_BYTES;
  const hint = headers["content-length"] ?? null;
  const standIn = () => create(route.spec.method.input);
  if (hint !== null && Number(hint) > limit) return Promise.resolve({ message: standIn(), refusal: oversizeBody(Number(hint), readMaxBytes) });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = () => stream.off("data", onData).off("end", done).off("close", onClose).off("aborted", onClose);
    const done = () => {
      stop();
      charge.finishReading();
      if (stream.aborted) onClose();
      else resolve(decode(route, chunks, total, hint, readMaxBytes, standIn));
    };
    const refuse = (refusal: BudgetRefusal) => {
      stop();
      charge.release();
      chunks.length = 0;
      resolve({ message: standIn(), refusal: budgetRefusalError(refusal) });
    };
    const charge = budget.open(stream.session ?? stream, refuse);
    // Each event comes once, and stop() takes the listeners off: `on` spares the wrappers `once` makes per call.
    stream.on("close", () => charge.release());
    const onData = (chunk: Buffer) => {
      const refused = charge.take(chunk.length);
      if (refused) return refuse(refused);
      chunks.push(chunk);
      total += chunk.length;
      // One byte past the limit is all the refusal needs; the rest of the upload is dropped.
      if (total > limit) done();
    };
    const onClose = () => reject(new ConnectError("the client went away", Code.Canceled));
    // "aborted": the client reset the stream before its request ended.
    stream.on("data", onData).on("end", done).on("close", onClose).on("aborted", onClose);
    if (stream.readableEnded) done();
  });
}

async function decode(
  route: UnaryRoute,
  chunks: Buffer[],
  total: number,
  hint: string | null,
  readMaxBytes: number,
  standIn: () => UnaryInput["message"],
): Promise<UnaryInput> {
  if (total > readMaxBytes + ENVELOPE_BYTES || (hint !== null && Number(hint) !== total)) {
    // readAllBytes words the problem as connect-es would; the request checks refuse with it too.
    const error = await readAllBytes(createAsyncIterable(chunks), readMaxBytes + ENVELOPE_BYTES, hint).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { message: standIn(), refusal: ConnectError.from(error ?? new Error("the request body could not be read"), Code.InvalidArgument) };
  }
  const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  if (route.protocol === "connect") return parsed(route, body, standIn);
  const length = body.length >= ENVELOPE_BYTES ? body.readUInt32BE(1) : -1;
  const single = length === body.length - ENVELOPE_BYTES;
  if (single && body[0] === 0) return parsed(route, body.subarray(ENVELOPE_BYTES), standIn);
  // A compressed envelope without grpc-encoding: a message that does not decode is refused as such, as the request checks do.
  if (single && body[0] === 1) {
    const input = parsed(route, body.subarray(ENVELOPE_BYTES), standIn);
    if (input.refusal) return input;
  }
  return { message: standIn(), protocolError: await framingError(route.spec, body, readMaxBytes) };
}

function parsed(route: UnaryRoute, bytes: Uint8Array, standIn: () => UnaryInput["message"]): UnaryInput {
  const message = parseBinaryRequest(route.spec.method, bytes);
  return message instanceof ConnectError ? { message: standIn(), refusal: message } : { message };
}

/** What connect-es reports for a body that is not exactly one uncompressed envelope, through its own envelope reader. */
async function framingError(spec: UnaryMethodSpec, body: Uint8Array, readMaxBytes: number): Promise<ConnectError> {
  const serialization = createMethodSerializationLookup(spec.method, undefined, undefined, { readMaxBytes, writeMaxBytes: 0xffffffff });
  let messages = 0;
  try {
    const it = pipe(
      createAsyncIterable([body]),
      transformSplitEnvelope(readMaxBytes),
      transformDecompressEnvelope(null, readMaxBytes),
      transformParseEnvelope(serialization.getI(true)),
    );
    for await (const _ of it) messages++;
  } catch (error) {
    return ConnectError.from(error);
  }
  return messages === 0
    ? new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented)
    : new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
}
