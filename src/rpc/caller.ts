import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Caller } from "../identity/tokens.js";
import { UnauthenticatedError } from "../shared/errors.js";

/** The authenticated caller, put in the handler context by the auth interceptor. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "authenticated caller" });

export function requireCaller(context: HandlerContext): Caller {
  const caller = context.values.get(callerKey);
  if (!caller) throw new UnauthenticatedError("missing authorization: send 'authorization: Bearer <access token>'");
  return caller;
}
