import type http from "node:http";
import http2 from "node:http2";
import { type ContextValues, createContextKey, createContextValues } from "@connectrpc/connect";
import { ResourceExhaustedError } from "../shared/errors.js";
import { resetHttp2Stream } from "../transport/reset-stream.js";
import { peerAddressKey } from "./peer.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Cuts a call off at the transport. A streaming handler's final status travels behind the
 * data already written, so a client that stopped reading never receives it; this ends the
 * call anyway: an HTTP/2 RST_STREAM (ENHANCE_YOUR_CALM for a client that fell behind, which
 * gRPC and Connect clients report as RESOURCE_EXHAUSTED; CANCEL otherwise), or closing the
 * connection of an HTTP/1.1 call. Does nothing once the call has finished.
 */
export type ResetStream = (reason: Error) => void;

export const resetStreamKey = createContextKey<ResetStream | undefined>(undefined, { description: "resets the call's transport stream" });

/**
 * Bytes of the call's response written but not yet taken by the client: what the HTTP/2
 * stream (or the HTTP/1.1 response and its socket) still holds. Stream byte budgets count it.
 */
export type TransportBacklog = () => number;

export const transportBacklogKey = createContextKey<TransportBacklog>(() => 0, { description: "bytes the call's transport still holds" });

/** Pairs each HTTP/1.1 request with its response, which is what can be closed. */
const responses = new WeakMap<NodeRequest, NodeResponse>();

/** Call from the request listener before the request reaches the Connect handler. */
export function trackResponse(req: NodeRequest, res: NodeResponse): void {
  responses.set(req, res);
}

/** Context values for the Connect handler (src/rpc/call-handler.ts, `contextValues`). */
export function transportContextValues(req: NodeRequest): ContextValues {
  return createContextValues()
    .set(resetStreamKey, (reason) => resetStream(req, reason))
    .set(transportBacklogKey, () => transportBacklog(req))
    .set(peerAddressKey, req.socket?.remoteAddress ?? "");
}

function transportBacklog(req: NodeRequest): number {
  if ("stream" in req) return req.stream.destroyed ? 0 : req.stream.writableLength;
  const res = responses.get(req);
  return res && !res.destroyed ? res.writableLength : 0;
}

/** The RST_STREAM code for a call the server cuts off: ENHANCE_YOUR_CALM for a client that fell behind (clients report RESOURCE_EXHAUSTED), CANCEL otherwise. */
export function resetCodeFor(reason: Error): number {
  return reason instanceof ResourceExhaustedError ? http2.constants.NGHTTP2_ENHANCE_YOUR_CALM : http2.constants.NGHTTP2_CANCEL;
}

/** Resets the call's HTTP/2 stream as resetStreamKey promises, unless it already closed. */
export function resetCallStream(stream: http2.Http2Stream, reason: Error): void {
  if (stream.closed || stream.destroyed) return;
  resetHttp2Stream(stream, resetCodeFor(reason), "stream reset by the server");
}

function resetStream(req: NodeRequest, reason: Error): void {
  if ("stream" in req) return resetCallStream(req.stream, reason);
  const res = responses.get(req);
  if (res && !res.writableFinished && !res.destroyed) res.destroy();
}
