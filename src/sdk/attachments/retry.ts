import { CyphrError, toCyphrError } from "../errors.js";

/** A transfer gives up after this many failures in a row with no byte moved in between. */
export const MAX_TRANSFER_FAILURES = 5;

const RETRYABLE = new Set(["unavailable", "deadline_exceeded", "aborted", "resource_exhausted", "canceled", "internal", "unknown"]);

/**
 * Runs `attempt` until it completes: after a failure the network or the server's load
 * explains (a lost connection, a reset stream, too many reads at once), it waits (the
 * server's retry hint, else 100 ms doubling) and runs it again, where `attempt` resumes
 * from what the server already has. Gives up after MAX_TRANSFER_FAILURES failures in a row
 * without progress, and at once on any other failure or when `signal` aborts.
 */
export async function resumable<T>(attempt: () => Promise<T>, progress: () => number, signal?: AbortSignal): Promise<T> {
  let failures = 0;
  let seen = progress();
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted) throw new CyphrError("canceled", "The transfer was canceled.", undefined, { cause: error });
      const err = toCyphrError(error);
      if (progress() > seen) failures = 0;
      seen = progress();
      failures++;
      if (!RETRYABLE.has(err.code) || failures >= MAX_TRANSFER_FAILURES) throw err;
      await new Promise((resolve) => setTimeout(resolve, err.retryAfterMs ?? 100 * 2 ** (failures - 1)));
    }
  }
}
