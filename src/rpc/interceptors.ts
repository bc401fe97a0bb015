import type { Interceptor, StreamResponse } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Caller } from "../identity/tokens.js";
import { UnauthenticatedError } from "../shared/errors.js";
import { callerKey } from "./caller.js";
import { toConnectError } from "./errors.js";

/** Fully-qualified names ("pkg.Service/Method" or "pkg.Service") callable without a token. */
export type PublicMethods = ReadonlySet<string>;

/**
 * Logs one line per call: method, status code, duration. Never headers, payloads,
 * tokens or addresses. Also maps every error to a ConnectError (see errors.ts),
 * including errors raised while a response stream is being consumed.
 */
export function observe(log: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const method = `${req.service.typeName}/${req.method.name}`;
    const finish = (error?: ConnectError) => {
      const code = error ? Code[error.code] : "OK";
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      const level = error?.code === Code.Internal || error?.code === Code.Unknown ? "error" : "info";
      log[level]({ method, code, durationMs }, "rpc");
    };
    let res;
    try {
      res = await next(req);
    } catch (error) {
      const mapped = toConnectError(error, log, method);
      finish(mapped);
      throw mapped;
    }
    if (!res.stream) {
      finish();
      return res;
    }
    return { ...res, message: observeStream(res, log, method, finish) } as StreamResponse;
  };
}

async function* observeStream(
  res: StreamResponse,
  log: Logger,
  method: string,
  finish: (error?: ConnectError) => void,
): AsyncGenerator<unknown> {
  try {
    yield* res.message;
  } catch (error) {
    const mapped = toConnectError(error, log, method);
    finish(mapped);
    throw mapped;
  }
  finish();
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
