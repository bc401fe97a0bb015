/**
 * The MLS engine's typed errors. The SDK-wide CyphrError (src/sdk/errors.ts) did not exist when
 * this was written; MlsError carries the same two things: the gRPC code (a ConnectError's, or
 * FAILED_PRECONDITION for a local state problem) and a message a person can act on.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { MlsError as TsMlsError } from "ts-mls/mlsError.js";

export class MlsError extends Error {
  override readonly name = "MlsError";
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server's answer to a commit made on an epoch that another commit already moved on from. */
export function isStaleEpoch(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.FailedPrecondition && err.rawMessage.startsWith("stale epoch");
}

/** Errors after which the same request (same client_message_id) may be sent again. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ConnectError && (err.code === Code.Unavailable || err.code === Code.DeadlineExceeded || err.code === Code.Aborted);
}

/** A ConnectError as an MlsError (its code and message kept), a ts-mls refusal as FAILED_PRECONDITION; anything else unchanged. */
export function asMlsError(err: unknown): unknown {
  if (err instanceof ConnectError) return new MlsError(err.code, err.rawMessage, { cause: err });
  if (err instanceof TsMlsError) return new MlsError(Code.FailedPrecondition, `MLS refused the operation: ${err.message}`, { cause: err });
  return err;
}

export function removedFrom(chatId: string): MlsError {
  return new MlsError(Code.PermissionDenied, `this device was removed from chat ${chatId}: it can no longer send or commit there`);
}

export function noState(chatId: string): MlsError {
  return new MlsError(Code.FailedPrecondition, `this device has no MLS state for chat ${chatId}: accept its Welcome or join it first`);
}
