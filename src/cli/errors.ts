/**
 * How the CLI ends: every expected failure is one line on stderr and an exit code that says
 * what kind of failure it was; only an unexpected failure (a bug) prints more, and only with
 * CYPHR_DEBUG=1.
 */
import { CyphrError } from "../sdk/index.js";

/** A failure of the CLI itself (bad input, missing profile), reported like a CyphrError. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

/** The exit codes, documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  /** The request failed (refused by the server, unknown user, …). */
  failed: 1,
  /** Bad usage: unknown command or option, missing or malformed argument. */
  usage: 2,
  /** The server cannot be reached. */
  unavailable: 3,
  /** Not signed in, session ended, or wrong passphrase. */
  unauthenticated: 4,
  /** The profile does not exist or holds no account. */
  noProfile: 5,
  /** Interrupted (Ctrl-C while waiting). */
  interrupted: 130,
  /** A bug: not an expected failure. */
  internal: 70,
} as const;

/** The one line and the exit code for a failure. */
export function describeFailure(error: unknown): { line: string; exitCode: number } {
  if (error instanceof CliError) return { line: error.message, exitCode: error.exitCode };
  if (error instanceof CyphrError) {
    const exitCode = error.code === "unavailable" ? EXIT.unavailable : error.code === "unauthenticated" ? EXIT.unauthenticated : EXIT.failed;
    const retry = error.retryAfterMs !== undefined ? ` (retry in ${Math.ceil(error.retryAfterMs / 1000)} s)` : "";
    return { line: `${oneLine(error.message)}${retry}`, exitCode };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { line: `unexpected error: ${oneLine(message)} (run with CYPHR_DEBUG=1 for details)`, exitCode: EXIT.internal };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
