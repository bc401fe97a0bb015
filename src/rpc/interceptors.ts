import type { Interceptor, StreamResponse } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Caller } from "../identity/tokens.js";
import { UnauthenticatedError } from "../shared/errors.js";
import { callKey } from "./call.js";
import { callerKey } from "./caller.js";
import { toConnectError } from "./errors.js";

/** Fully-qualified names ("pkg.Service/Method" or "pkg.Service") callable without a token. */
export type PublicMethods = ReadonlySet<string>;

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
      const code = error ? Code[error.code] : "OK";
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      const level = error?.code === Code.Internal || error?.code === Code.Unknown ? "error" : "info";
      log[level]({ method, code, durationMs }, "rpc");
    };
    const fail = (error: unknown) => {
      const mapped = deadlineOrCancel(req.signal) ?? toConnectError(error, log, method);
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
      const invalid = new ConnectError(`a request message does not decode: ${error.rawMessage.replace(/^parse binary: /, "").slice(0, 200)}`, Code.InvalidArgument);
      reject(invalid);
      throw invalid;
    }
  }
  return { messages: messages(), failed };
}

/**
 * Verifies `authorization: Bearer <token>` on every method not in `publicMethods`
 * and puts the caller in the context. Public methods still get a caller when a valid
 * token is sent.
 */
export function authenticate(
  publicMethods: PublicMethods,
  verify: (token: string) => Promise<Caller>,
): Interceptor {
  return (next) => async (req) => {
    const caller = await callerOf(publicMethods, verify, req.service.typeName, req.method.name, req.header.get("authorization"));
    if (caller) req.contextValues.set(callerKey, caller);
    return next(req);
  };
}

/**
 * The caller named by an `authorization` header value (null when absent), for the
 * method `typeName/methodName`. Throws UnauthenticatedError on a method not in
 * `publicMethods` without a valid token; a public method gets undefined instead.
 */
export async function callerOf(
  publicMethods: PublicMethods,
  verify: (token: string) => Promise<Caller>,
  typeName: string,
  methodName: string,
  header: string | null,
): Promise<Caller | undefined> {
  const isPublic = publicMethods.has(typeName) || publicMethods.has(`${typeName}/${methodName}`);
  if (header === null) {
    if (isPublic) return undefined;
    throw new UnauthenticatedError("missing authorization: send 'authorization: Bearer <access token>'");
  }
  // The scheme name is case-insensitive (RFC 7235 §2.1).
  const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i.exec(header.trim());
  if (!match) {
    if (isPublic) return undefined;
    throw new UnauthenticatedError("malformed authorization header: expected 'Bearer <access token>'");
  }
  return verify(match[1]!).catch((error: unknown) => {
    if (isPublic) return undefined;
    throw error;
  });
}
