/**
 * The embedded PostgreSQL cannot start for a reason the operator can fix. The message is
 * one line that says what to do; entry points print it without a stack trace.
 */
export class EmbeddedStartError extends Error {
  constructor(message: string) {
    super(oneLine(message));
    this.name = "EmbeddedStartError";
  }
}

/** Joins a multi-line message (PostgreSQL's output, say) into one line. */
export function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join("; ");
}
