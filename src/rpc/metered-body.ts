import type http from "node:http";
import http2 from "node:http2";
import type { DescMethod } from "@bufbuild/protobuf";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import type { BodyCharge, RequestBudget } from "../transport/request-budget.js";
import { budgetRefusalError, connectionOf, EnvelopeMeter } from "./request-budget.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * The same request, its body charged to the budget of buffered request bytes as connect-es
 * reads it (src/transport/request-budget.ts), for every call connect-es serves. A single
 * request message (unary, server-streaming) holds its bytes until the response closes, since
 * it stays in memory while its handler runs; a client- or bidi-streaming request holds only
 * the envelope still arriving. A chunk the budget refuses fails the read with
 * RESOURCE_EXHAUSTED naming the limit; a body the budget takes back while it is still
 * arriving has its HTTP/2 stream reset (ENHANCE_YOUR_CALM, which gRPC clients report as
 * RESOURCE_EXHAUSTED) or its HTTP/1.1 connection closed. Everything returns when the response
 * closes, however the call ended.
 */
export function meterRequestBody(
  budget: RequestBudget,
  method: DescMethod,
  uReq: UniversalServerRequest,
  req: NodeRequest,
  res: NodeResponse,
): UniversalServerRequest {
  const body = uReq.body;
  if (!isByteStream(body)) return uReq;
  const charge = budget.open(connectionOf(req), () => dropRequest(req));
  res.once("close", () => charge.release());
  const streaming = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
  return { ...uReq, body: metered(body, charge, streaming ? new EnvelopeMeter() : undefined) };
}

async function* metered(body: AsyncIterable<Uint8Array>, charge: BodyCharge, meter: EnvelopeMeter | undefined): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    const refused = charge.take(chunk.byteLength);
    if (refused) {
      // The call is refused: what it read is dropped now, not when its response closes.
      charge.release();
      throw budgetRefusalError(refused);
    }
    if (meter) {
      meter.push(chunk);
      // Complete envelopes in this chunk go on to the handler; the unfinished one stays buffered.
      charge.settle(meter.partial);
    }
    yield chunk;
  }
  charge.finishReading();
}

function dropRequest(req: NodeRequest): void {
  if ("stream" in req) {
    if (!req.stream.closed) req.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    return;
  }
  req.socket.destroy();
}

function isByteStream(body: unknown): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}
