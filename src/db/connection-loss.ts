import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError, IdleTransactionTimeoutError, StatementTimeoutError } from "slonik";

/** slonik's classes for a connection that could not be made, was lost, or a statement that ran out of time. */
const UNAVAILABLE_CLASSES = [ConnectionError, BackendTerminatedError, BackendTerminatedUnexpectedlyError, IdleTransactionTimeoutError, StatementTimeoutError];

/**
 * SQLSTATEs slonik passes through unwrapped that mean "the server is going away or not
 * there yet": class 08 (connection exception), 57P01–57P05 (admin/crash shutdown, cannot
 * connect now, database dropped, idle session timeout), 53300 (too many connections).
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-5]|53300)$/;

/** Socket-level failures node raises while connecting to or talking with PostgreSQL. */
const SOCKET_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND"]);

/**
 * Messages of plain Errors raised by pg and slonik's pool for a dead or closing
 * connection (they carry no class or code of their own).
 */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/i,
  /not queryable/i,
  /^Client (is pending destroy|is destroyed|has encountered a connection error)/,
  /^Connection pool (is being terminated|has ended|is being shut down|has been shut down)/,
  /^timeout exceeded when trying to connect/i,
];

/**
 * True when `error` (or an error it wraps as `cause`) says the database could not be
 * reached or the connection died: a condition a retry can outlive, answered UNAVAILABLE.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    if (UNAVAILABLE_CLASSES.some((kind) => current instanceof kind)) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (UNAVAILABLE_SQLSTATE.test(code) || SOCKET_ERRORS.has(code))) return true;
    if (UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(current.message))) return true;
  }
  return false;
}
