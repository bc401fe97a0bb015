import http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import type { Logger } from "pino";
import { ConnectRequestSchema, SubscribeRequestSchema } from "../../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Caller } from "../../identity/tokens.js";
import { writeCallLine } from "../../rpc/call-log.js";
import { singleRequestMessageError, toConnectError } from "../../rpc/errors.js";
import { MAX_DEADLINE_MS } from "../../rpc/request-checks.js";
import { resetCallStream } from "../../rpc/stream-reset.js";
import { DeadlineExceededError, UnavailableError } from "../../shared/errors.js";
import { quote } from "../../shared/quote.js";
import type { RequestBudget } from "../../transport/request-budget.js";
import { ClientFrames } from "../client-frames.js";
import type { RealtimeContext } from "../context.js";
import type { EventStream, StreamTransport } from "../stream.js";
import { clientFrameHandler, helloTimeoutMs, openStream, requireHello, withinHelloTimeout } from "../stream-open.js";
import { encodeFrameEnvelope } from "./frame-encoding.js";
import { IncomingMessages } from "./incoming.js";
import { StreamResponder, type StreamRoute, timeoutHeader } from "./protocol.js";

export interface StreamCallDeps {
  rt: RealtimeContext;
  log: Logger;
  /** The caller named by the `authorization` header; throws UnauthenticatedError. */
  authenticate(authorization: string | undefined): Promise<Caller>;
  /** Aborts when the server shuts down. */
  shutdownSignal: AbortSignal;
  /** Largest request message, in bytes. */
  readMaxBytes: number;
  /** Bytes of request messages buffered, per connection and in all (src/transport/request-budget.ts). */
  requestBudget: RequestBudget;
}

/**
 * Serves one `Connect` or `Subscribe` call on its HTTP/2 stream directly: authentication,
 * the client's deadline, the request messages, the event stream, writes paced by the
 * stream's flow control, the final status in the call's protocol, and the call's one log
 * line. No per-call request/response objects or async-iterable pipeline: an idle stream
 * costs its EventStream, this closure and Node's own HTTP/2 stream.
 */
export function serveStreamCall(deps: StreamCallDeps, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, route: StreamRoute): void {
  const started = performance.now();
  const method = `cyphr.realtime.v1.RealtimeService/${route.method}`;
  const responder = new StreamResponder(stream, route.protocol);
  let events: EventStream | undefined;
  let outcome: Code | 0 | undefined;

  /** The call's status is decided (written, or being written): nothing more of the call may start. */
  const ended = () => outcome !== undefined;
  const end = (error: unknown) => {
    if (ended()) return;
    const mapped = error === undefined ? undefined : toConnectError(error, deps.log, method);
    outcome = mapped?.code ?? 0;
    responder.finish(mapped);
  };
  stream.on("error", () => undefined); // a reset by the client; "close" follows
  // "close" comes once: `on` spares the wrapper `once` makes for each stream.
  stream.on("close", () => {
    clearTimeout(deadline);
    // The client went away (or the stream was reset) before its status was written.
    if (outcome === undefined) outcome = Code.Canceled;
    events?.callEnded();
    const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_CANCEL } = http2.constants;
    // What the client got: a reset before the status reached it overrides the status.
    const code =
      stream.rstCode === NGHTTP2_ENHANCE_YOUR_CALM
        ? Code.ResourceExhausted
        : stream.rstCode === NGHTTP2_CANCEL && !responder.delivered
          ? Code.Canceled
          : outcome;
    writeCallLine(deps.log, method, code, started);
  });

  const timeout = clientTimeout(route, headers);
  let deadline: NodeJS.Timeout | undefined;
  if (deps.shutdownSignal.aborted)
    return end(new UnavailableError("the server is shutting down; reconnect (to another instance) and resume from your last cursor"));
  if (timeout instanceof Error) return end(timeout);
  if (timeout !== undefined) {
    deadline = setTimeout(
      () => {
        const expired = new DeadlineExceededError(`the call's deadline of ${timeout} ms expired`);
        if (events) events.fail(expired);
        else end(expired);
      },
      Math.min(timeout, MAX_DEADLINE_MS),
    );
  }

  const transport: StreamTransport = {
    // The server's shutdown; the call's own end reaches the stream through callEnded() above.
    signal: deps.shutdownSignal,
    // Only a client that has not taken its status is cut off.
    resetTransport: (reason) => responder.delivered || resetCallStream(stream, reason),
    transportBacklog: () => (stream.destroyed ? 0 : stream.writableLength),
  };
  // The token is the run's argument, not a variable of this scope: the closures that live as long as
  // the stream would keep it (~0.5 KB, an external string Node made from the header), and the
  // headers object with it.
  const run = async (authorization: string | undefined) => {
    const caller = await deps.authenticate(authorization);
    // The deadline, a shutdown or the client's reset may have ended the call meanwhile.
    if (ended()) return;
    if (route.method === "Subscribe") {
      const request = await withinHelloTimeout(
        onlyMessage(new IncomingMessages(stream, SubscribeRequestSchema, deps.readMaxBytes, deps.requestBudget), method),
        helloTimeoutMs(deps.rt),
        "request",
      );
      if (ended()) return;
      events = openStream(deps.rt, caller, request.resumeCursor, transport, "subscribe");
    } else {
      const frames = new IncomingMessages(stream, ConnectRequestSchema, deps.readMaxBytes, deps.requestBudget);
      const hello = requireHello(await withinHelloTimeout(frames.next(), helloTimeoutMs(deps.rt)));
      if (ended()) return;
      events = openStream(deps.rt, caller, hello.resumeCursor, transport, "connect");
      // Each frame goes to the handler as it arrives; a frame that does not decode ends the
      // stream with its status (INVALID_ARGUMENT, RESOURCE_EXHAUSTED).
      const reader = new ClientFrames(clientFrameHandler(deps.rt, caller), events, frames, deps.log);
      frames.forward({ message: (request) => reader.push(request), end: (error) => reader.end(error) });
    }
    responder.open();
    // From here the stream pushes its frames and reports its end: nothing of this call waits.
    const attached = events;
    stream.on("drain", () => attached.resume());
    attached.attach({
      // A stream the client reset takes nothing more; its end follows through callEnded() on "close".
      write: (frame) => stream.destroyed || responder.writeEnvelope(encodeFrameEnvelope(frame)),
      end,
    });
  };
  run(headerValue(headers.authorization)).catch((error: unknown) => end(error));
}

/** The single request message of a server-streaming call (the same refusal as through connect-es). */
async function onlyMessage<T>(messages: AsyncIterator<T>, method: string): Promise<T> {
  const first = await messages.next();
  if (first.done) throw singleRequestMessageError(method, "none");
  const second = await messages.next();
  if (!second.done) throw singleRequestMessageError(method, "several");
  return first.value;
}

/** The client's deadline in milliseconds, undefined for none, or why the header is refused. */
function clientTimeout(route: StreamRoute, headers: http2.IncomingHttpHeaders): number | undefined | ConnectError {
  const name = timeoutHeader(route.protocol);
  const value = headerValue(headers[name]);
  if (value === undefined) return undefined;
  const parsed = route.protocol === "connect" ? parseConnectTimeout(value, Number.MAX_SAFE_INTEGER) : parseGrpcTimeout(value, Number.MAX_SAFE_INTEGER);
  if (parsed.error || parsed.timeoutMs === undefined) return new ConnectError(`invalid ${name} header ${quote(value)}`, Code.InvalidArgument);
  return parsed.timeoutMs;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
