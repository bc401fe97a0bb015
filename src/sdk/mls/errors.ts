/**
 * The MLS engine's failures, as the SDK's CyphrError (src/sdk/errors.ts): the gRPC code name and a
 * message a person can act on. Server refusals keep the server's code and message; a refusal by
 * ts-mls (an operation its state does not allow) is failed_precondition.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { MlsError as TsMlsError } from "ts-mls/mlsError.js";
import { CyphrError, toCyphrError } from "../errors.js";

/** The server's answer to a commit made on an epoch that another commit already moved on from. */
export function isStaleEpoch(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.FailedPrecondition && err.rawMessage.startsWith("stale epoch");
}

/** Errors after which the same request (same client_message_id) may be sent again. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ConnectError && (err.code === Code.Unavailable || err.code === Code.DeadlineExceeded || err.code === Code.Aborted);
}

/** What a public operation of the engine throws: a CyphrError for every expected failure; anything else unchanged. */
export function asCyphrError(err: unknown): unknown {
  if (err instanceof CyphrError) return err;
  if (err instanceof ConnectError) return toCyphrError(err);
  if (err instanceof TsMlsError) return new CyphrError("failed_precondition", `MLS refused the operation: ${err.message}`, undefined, { cause: err });
  return err;
}

export function noState(chatId: string): CyphrError {
  return new CyphrError("failed_precondition", `this device has no MLS state for chat ${chatId}: accept its Welcome or join it first`);
}

export function removedFrom(chatId: string): CyphrError {
  return new CyphrError("permission_denied", `this device was removed from chat ${chatId}: it can no longer send or commit there`);
}

export function mlsFailure(code: "not_found" | "data_loss", message: string, cause?: unknown): CyphrError {
  return new CyphrError(code, message, undefined, { cause });
}
