/** What commands print: `--json` gives one JSON document on stdout, otherwise lines for people. */

export class Output {
  constructor(readonly json: boolean) {}

  /** Prints `value` as JSON, or the lines `text` makes of it. */
  data<T>(value: T, text: (value: T) => string | string[]): void {
    if (this.json) {
      process.stdout.write(`${toJson(value)}\n`);
      return;
    }
    const lines = text(value);
    for (const line of Array.isArray(lines) ? lines : [lines]) process.stdout.write(`${line}\n`);
  }

  /** A note for people (stderr, so stdout stays data); silent with --json. */
  note(line: string): void {
    if (!this.json) process.stderr.write(`${line}\n`);
  }
}

/** JSON with bigints as decimal strings, dates as ISO strings and bytes as hex. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
    return v;
  });
}

export function formatDate(date: Date | undefined): string {
  return date === undefined
    ? "-"
    : date
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");
}
