import type { Interceptor } from "@connectrpc/connect";
import type { Caller } from "../identity/tokens.js";
import { UnauthenticatedError } from "../shared/errors.js";
import { callerKey } from "./caller.js";

export { observe } from "./observe.js";

/** Fully-qualified names ("pkg.Service/Method" or "pkg.Service") callable without a token. */
export type PublicMethods = ReadonlySet<string>;

/**
 * Verifies `authorization: Bearer <token>` on every method not in `publicMethods`
 * and puts the caller in the context. Public methods still get a caller when a valid
 * token is sent.
 */
export function authenticate(publicMethods: PublicMethods, verify: (token: string) => Promise<Caller>): Interceptor {
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
