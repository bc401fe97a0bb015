import { type Code, type ConnectError, createContextKey } from "@connectrpc/connect";

/** One RPC as the call layer (src/rpc/call-handler.ts) sees it, from request to its one log line. */
export interface Call {
  /** "package.Service/Method". */
  readonly method: string;
  readonly startedMs: number;
  /**
   * Why the request itself is refused (it does not decode, it is too large), found before the
   * handler runs; the observe interceptor raises it, so the refusal is answered in the caller's
   * protocol and passes through the interceptors like any other failure.
   */
  refusal?: ConnectError;
  /** The code the interceptors ended the call with (0: OK), when they ran. */
  handlerCode?: Code | 0;
  /** The code written on the wire (grpc-status, a Connect error body or end-stream frame), once seen. */
  wireCode?: Code;
}

export const callKey = createContextKey<Call | undefined>(undefined, { description: "the call as the call layer tracks it" });

export function startCall(method: string): Call {
  return { method, startedMs: performance.now() };
}
