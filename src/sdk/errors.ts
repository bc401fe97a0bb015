import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { ERROR_REASON_DOMAIN, ERROR_REASONS, type ErrorReason } from "../shared/errors.js";

/**
 * The gRPC status code names, in snake case ("invalid_argument", "unauthenticated", …):
 * what a CyphrError carries as `code`. A network failure is "unavailable".
 */
export type CyphrErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

/**
 * Why the server refused, when it says so for a client to act on: the google.rpc.ErrorInfo
 * reasons of domain "cyphr.im" (proto/cyphr/account/v1/account.proto lists them).
 */
export type CyphrErrorReason = ErrorReason;

const REASONS: ReadonlySet<string> = new Set(ERROR_REASONS);

/** Every failure the SDK reports: a code, a message a person can act on, a retry hint, and a reason to branch on. */
export class CyphrError extends Error {
  override readonly name = "CyphrError";

  constructor(
    readonly code: CyphrErrorCode,
    message: string,
    /** From the server's retry-after-ms: how long to wait before trying again. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown; reason?: CyphrErrorReason },
  ) {
    super(message, options);
    this.reason = options?.reason;
  }

  /** The server's structured reason (its ErrorInfo detail), when it gave one; match this, not the message. */
  readonly reason: CyphrErrorReason | undefined;
}

const HINTS: Partial<Record<CyphrErrorCode, string>> = {
  unauthenticated: "sign in again",
  unavailable: "check the server address and the network, then try again",
  resource_exhausted: "wait and try again",
  deadline_exceeded: "try again",
  internal: "the server failed; try again later",
};

const NETWORK_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

/** Turns whatever a call threw (ConnectError, network failure, CyphrError) into a CyphrError. */
export function toCyphrError(error: unknown): CyphrError {
  if (error instanceof CyphrError) return error;
  if (isNetworkFailure(error)) {
    return new CyphrError("unavailable", `Cannot reach the Cyphr server: ${HINTS.unavailable}.`, undefined, { cause: error });
  }
  const connect = ConnectError.from(error);
  const code = codeName(connect.code);
  const retryAfterMs = parseRetryAfter(connect.metadata.get("retry-after-ms"));
  const text = connect.rawMessage.trim();
  const hint = HINTS[code];
  const message = text === "" ? `The server refused the call (${code})${hint ? `: ${hint}` : ""}.` : text;
  return new CyphrError(code, message, retryAfterMs, { cause: error, reason: reasonOf(connect) });
}

function reasonOf(error: ConnectError): CyphrErrorReason | undefined {
  const info = error.findDetails(ErrorInfoSchema).find((d) => d.domain === ERROR_REASON_DOMAIN && REASONS.has(d.reason));
  return info?.reason as CyphrErrorReason | undefined;
}

/** Runs one call and reports its failure as a CyphrError. */
export async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toCyphrError(error);
  }
}

function codeName(code: Code): CyphrErrorCode {
  const name = Code[code];
  if (name === undefined) return "unknown";
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase() as CyphrErrorCode;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

function isNetworkFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_ERRORS.has(code)) return true;
    if (e instanceof TypeError && /fetch|network/i.test(e.message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
