import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { isDatabaseUnavailable } from "../db/connection-loss.js";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { DomainError, ERROR_REASON_DOMAIN, type ErrorKind, ResourceExhaustedError } from "../shared/errors.js";

/** The one place where domain failures become gRPC status codes. */
const CODES: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  deadline_exceeded: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
};

/**
 * Turns anything a handler threw into a ConnectError. Expected failures keep their
 * message, and their reason as a google.rpc.ErrorInfo detail; anything unexpected is logged here and reaches the client as a bare
 * INTERNAL with no detail.
 */
export function toConnectError(error: unknown, log: Logger, method: string): ConnectError {
  if (error instanceof DomainError) {
    const metadata = new Headers();
    if (error instanceof ResourceExhaustedError && error.retryAfterMs !== undefined) {
      metadata.set("retry-after", String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
      metadata.set("retry-after-ms", String(Math.ceil(error.retryAfterMs)));
    }
    const details = error.reason ? [{ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: error.reason, domain: ERROR_REASON_DOMAIN }) }] : [];
    return new ConnectError(error.message, CODES[error.kind], metadata, details);
  }
  if (error instanceof ConnectError) return singleRequestRefusal(error, method) ?? error;
  if (isDatabaseUnavailable(error)) {
    log.warn({ method, err: { name: (error as Error).name } }, "database unavailable");
    return new ConnectError("database temporarily unavailable; retry later", Code.Unavailable);
  }
  if (isAbort(error)) return new ConnectError("request canceled", Code.Canceled);
  // Name, message and stack only: error objects can carry SQL rows (ciphertext, hashes).
  const err = error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { value: String(error) };
  log.error({ method, err }, "unexpected error");
  return new ConnectError("internal error", Code.Internal);
}

/**
 * What a server-streaming call (Subscribe) without exactly one request message is told,
 * whichever engine serves it: the request is at fault, so INVALID_ARGUMENT naming the
 * problem. connect-es itself answers UNIMPLEMENTED ("protocol error: missing input
 * message ..."); that answer is rewritten here.
 */
export function singleRequestMessageError(method: string, received: "none" | "several"): ConnectError {
  const name = method.slice(method.lastIndexOf("/") + 1);
  const what = received === "none" ? "no message" : "more than one message";
  return new ConnectError(`the request carries ${what}; ${name} takes exactly one request message`, Code.InvalidArgument);
}

function singleRequestRefusal(error: ConnectError, method: string): ConnectError | undefined {
  if (error.code !== Code.Unimplemented) return undefined;
  if (error.rawMessage === "protocol error: missing input message for server-streaming method") return singleRequestMessageError(method, "none");
  if (error.rawMessage === "protocol error: received extra input message for server-streaming method") return singleRequestMessageError(method, "several");
  return undefined;
}

/** A failure as carried inside a stream frame: gRPC code number, message, retry delay. */
export function toFrameStatus(error: unknown, log: Logger, method: string): { code: number; message: string; retryAfterMs: number } {
  const mapped = toConnectError(error, log, method);
  const retry = error instanceof ResourceExhaustedError ? Math.ceil(error.retryAfterMs ?? 0) : 0;
  return { code: mapped.code, message: mapped.rawMessage, retryAfterMs: retry };
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}
