/**
 * Expected failures of the domain. Each names its kind; src/rpc/errors.ts maps kinds to
 * gRPC status codes in one place. Messages are shown to clients: they name the problem
 * and never carry secrets or internals.
 */
export type ErrorKind =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "unavailable";

/**
 * Why a failure happened, for clients that must act on it: sent as a google.rpc.ErrorInfo
 * reason of domain ERROR_REASON_DOMAIN (proto/cyphr/account/v1/account.proto lists them); the
 * SDK reads them from here too.
 */
export const ERROR_REASONS = ["TOTP_REQUIRED", "TOTP_INVALID"] as const;
export type ErrorReason = (typeof ERROR_REASONS)[number];
export const ERROR_REASON_DOMAIN = "cyphr.im";

export abstract class DomainError extends Error {
  abstract readonly kind: ErrorKind;

  constructor(
    message: string,
    /** Set when a client is expected to branch on this failure. */
    readonly reason?: ErrorReason,
  ) {
    super(message);
  }
}

/** The request is malformed; the message names the field and the rule. */
export class InvalidArgumentError extends DomainError {
  readonly kind = "invalid_argument";
}

/** The caller could not be authenticated. */
export class UnauthenticatedError extends DomainError {
  readonly kind = "unauthenticated";
}

/** The caller is known but may not do this. */
export class PermissionDeniedError extends DomainError {
  readonly kind = "permission_denied";
}

export class NotFoundError extends DomainError {
  readonly kind = "not_found";
}

export class AlreadyExistsError extends DomainError {
  readonly kind = "already_exists";
}

/** The system is not in a state that allows the operation (e.g. last admin leaving). */
export class FailedPreconditionError extends DomainError {
  readonly kind = "failed_precondition";
}

/** A stream's peer stopped answering in time. */
export class DeadlineExceededError extends DomainError {
  readonly kind = "deadline_exceeded";
}

/** The server cannot serve this now (shutting down); retrying elsewhere or later succeeds. */
export class UnavailableError extends DomainError {
  readonly kind = "unavailable";
}

/** A limit was hit; `retryAfterMs` tells when trying again can succeed, if known. */
export class ResourceExhaustedError extends DomainError {
  readonly kind = "resource_exhausted";
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
