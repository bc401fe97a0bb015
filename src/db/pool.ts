import {
  createPool,
  createTypeParserPreset,
  SchemaValidationError,
  type DatabasePool,
  type Interceptor,
  type QueryResultRow,
} from "slonik";

export type { DatabasePool } from "slonik";

export interface PoolOptions {
  maximumPoolSize: number;
}

/**
 * Creates the slonik pool. Rows of queries built with `sql.type(schema)` are parsed by
 * their zod schema; timestamps arrive as `Date`, int8 as `number`.
 */
export async function createDatabasePool(url: string, options: PoolOptions): Promise<DatabasePool> {
  return createPool(url, {
    maximumPoolSize: options.maximumPoolSize,
    interceptors: [resultParser],
    captureStackTrace: false,
    connectionTimeout: 10_000,
    idleTimeout: 30_000,
    // slonik's default runs DISCARD ALL on every release: a round trip per transaction or
    // pooled query. Cyphr keeps no session state on pooled connections (no SET, no
    // session-level advisory locks, no LISTEN, no named prepared statements; the
    // migration runner and the event bus use their own clients), so there is nothing to reset.
    resetConnection: async () => {},
    // Timestamps as Date (slonik's default is epoch milliseconds); int8 as number (seqs,
    // counts and versions stay far below 2^53; slonik's default is bigint).
    typeParsers: [
      ...createTypeParserPreset().filter((p) => !["timestamptz", "timestamp", "int8"].includes(p.name)),
      { name: "timestamptz", parse: (value: string) => new Date(value) },
      { name: "int8", parse: parseSafeInteger },
    ],
  });
}

function parseSafeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${value} exceeds the safe integer range`);
  return n;
}

const resultParser: Interceptor = {
  name: "zod-result-parser",
  transformRow: (context, query, row) => {
    const parser = context.resultParser;
    if (!parser) return row;
    const result = parser.safeParse(row);
    if (!result.success) throw new SchemaValidationError(query, row, result.error.issues);
    return result.data as QueryResultRow;
  },
};
