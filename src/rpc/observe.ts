import type { Interceptor, StreamResponse } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { isDatabaseUnavailable } from "../db/connection-loss.js";
import { callKey } from "./call.js";
import { writeCallLine } from "./call-log.js";
import { toConnectError } from "./errors.js";

/**
 * Maps every error to a ConnectError (see errors.ts), including errors raised while a
 * response stream is being consumed, and records how the call ended for its log line
 * (src/rpc/call-log.ts; without the call layer, as with another transport, it logs the line
 * itself: method, status code, duration, never headers, payloads, tokens or addresses).
 * A refusal the call layer found in the request is raised here, before any other
 * interceptor. A call whose deadline passed ends DEADLINE_EXCEEDED, whatever the handler
 * made of the aborted signal; a request stream that fails to decode ends INVALID_ARGUMENT.
 */
export function observe(log: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const method = `${req.service.typeName}/${req.method.name}`;
    const call = req.contextValues.get(callKey);
    const finish = (error?: ConnectError) => {
      if (call) {
        call.handlerCode = error ? error.code : 0;
        return;
      }
      writeCallLine(log, method, error ? error.code : 0, started);
    };
    const fail = (error: unknown) => {
      const mapped = deadlineOrCancel(req.signal) ?? hangUp(error, req.signal) ?? toConnectError(error, log, method);
      finish(mapped);
      return mapped;
    };
    const input = req.stream ? decodedInput(req.message) : undefined;
    let res;
    try {
      if (call?.refusal) throw call.refusal;
      res = await next(input && req.stream ? { ...req, message: input.messages } : req);
    } catch (error) {
      throw fail(error);
    }
    if (!res.stream) {
      finish();
      return res;
    }
    return { ...res, message: observeStream(res, req.signal, input?.failed, finish, fail) } as StreamResponse;
  };
}

async function* observeStream(
  res: StreamResponse,
  signal: AbortSignal,
  inputFailed: Promise<never> | undefined,
  finish: (error?: ConnectError) => void,
  fail: (error: unknown) => ConnectError,
): AsyncGenerator<unknown> {
  const it = res.message[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      // A request frame that does not decode ends the call, even if the handler stops reading without a word.
      const next = await (inputFailed ? Promise.race([it.next(), inputFailed]) : it.next());
      if (next.done) break;
      yield next.value;
    }
    ended = true;
  } catch (error) {
    throw fail(error);
  } finally {
    // Cut short (the consumer returned, or the input failed): the handler's generator ends too.
    if (!ended) void it.return?.(undefined)?.catch(() => {});
  }
  const cut = deadlineOrCancel(signal);
  if (cut) throw fail(cut);
  finish();
}

/** The call's own end when its deadline passed or its client canceled, whatever the handler threw. */
function deadlineOrCancel(signal: AbortSignal): ConnectError | undefined {
  const reason: unknown = signal.aborted ? signal.reason : undefined;
  if (reason instanceof ConnectError && (reason.code === Code.DeadlineExceeded || reason.code === Code.Canceled)) return reason;
  return undefined;
}

/**
 * Node's words for a peer that went away mid-call: the call was canceled, nothing failed.
 * A reset socket is also how a database connection dies (a PostgreSQL crash mid-query):
 * while the client is still there (the call's signal not aborted), such an error is the
 * server's and answers UNAVAILABLE (errors.ts). Once the signal is aborted, whatever its
 * reason (connect-node aborts with ABORTED on an HTTP/1.1 reset, node:http2 with a plain
 * DOMException), the client went away.
 */
const HANG_UP_CODES = new Set([
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_STREAM_DESTROYED",
  "ERR_HTTP2_INVALID_STREAM",
  "ERR_HTTP2_STREAM_ERROR",
  "ECONNRESET",
  "EPIPE",
]);

function hangUp(error: unknown, signal: AbortSignal): ConnectError | undefined {
  if (!signal.aborted && isDatabaseUnavailable(error)) return undefined;
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return code !== undefined && HANG_UP_CODES.has(code) ? new ConnectError("the client went away", Code.Canceled) : undefined;
}

/**
 * The request stream as the handler reads it. connect-es reports a frame that does not
 * decode as INTERNAL ("parse binary: ..."); it is the client's input, so INVALID_ARGUMENT,
 * also announced through `failed`. A stream that breaks off (the client's transport failed)
 * is a cancellation.
 */
function decodedInput<T>(input: AsyncIterable<T>): { messages: AsyncIterable<T>; failed: Promise<never> } {
  let reject: (error: ConnectError) => void = () => {};
  const failed = new Promise<never>((_, r) => (reject = r));
  failed.catch(() => {});
  async function* messages(): AsyncGenerator<T> {
    try {
      yield* input;
    } catch (error) {
      if (!(error instanceof ConnectError)) throw new ConnectError("the request stream broke off", Code.Canceled);
      if (error.code !== Code.Internal) throw error;
      const invalid = new ConnectError(
        `a request message does not decode: ${error.rawMessage.replace(/^parse binary: /, "").slice(0, 200)}`,
        Code.InvalidArgument,
      );
      reject(invalid);
      throw invalid;
    }
  }
  return { messages: messages(), failed };
}
