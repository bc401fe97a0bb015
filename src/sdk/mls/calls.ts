/** How the MLS engine makes its calls: resent on transport failures, errors turned into CyphrError. */
import { asCyphrError, isRetryable } from "./errors.js";

/** A send, edit or commit that failed in transit is sent again (same request, same client_message_id) at most this many times in all. */
export const MAX_SEND_ATTEMPTS = 3;

/** A commit lost to another one is rebuilt on the winner's epoch at most this many times. */
export const MAX_COMMIT_ATTEMPTS = 5;

export async function resend<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isRetryable(err) || attempt >= MAX_SEND_ATTEMPTS) throw err;
    }
  }
}

/** Runs one public operation; a ConnectError or ts-mls refusal leaves it as a CyphrError. */
export async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw asCyphrError(err);
  }
}
