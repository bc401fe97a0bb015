import { createPool, createTypeParserPreset, type DatabasePool, type Interceptor, type QueryResultRow, SchemaValidationError } from "slonik";

export type { DatabasePool } from "slonik";

export interface PoolOptions {
  maximumPoolSize: number;
  /** Longest one statement may run before PostgreSQL cancels it (SQLSTATE 57014), in milliseconds. */
  statementTimeoutMs?: number;
}

/**
 * Creates the slonik pool. Rows of queries built with `sql.type(schema)` are parsed by
 * their zod schema; timestamps arrive as `Date`, int8 as `number`.
 */
export async function createDatabasePool(url: string, options: PoolOptions): Promise<DatabasePool> {
  return createPool(url, {
    maximumPoolSize: options.maximumPoolSize,
    statementTimeout: options.statementTimeoutMs ?? 10_000,
    interceptors: [resultParser],
    captureStackTrace: false,
    connectionTimeout: 10_000,
    idleTimeout: 30_000,
    // How long destroying a connection waits for its query, then for the socket to close:
    // after an outage neither may ever answer, and the pool must not keep the slot.
    gracefulTerminationTimeout: CONNECTION_CLOSE_TIMEOUT_MS,
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

const CONNECTION_CLOSE_TIMEOUT_MS = 5_000;

/**
 * Ends the pool, waiting at most `timeoutMs`: connections whose database vanished may
 * never answer their goodbye, and shutdown must still finish. False when time ran out.
 */
export async function closeDatabasePool(pool: DatabasePool, timeoutMs = CONNECTION_CLOSE_TIMEOUT_MS + 1_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      pool.end().then(
        () => true,
        () => true,
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function parseSafeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${value} exceeds the safe integer range`);
  return n;
}

/** Parses rows with the query's schema (any Standard Schema; ours are zod's, which validate synchronously). */
const resultParser: Interceptor = {
  name: "zod-result-parser",
  transformRow: (context, query, row) => {
    const parser = context.resultParser;
    if (!parser) return row;
    const result = parser["~standard"].validate(row);
    if (result instanceof Promise) throw new TypeError("row schemas must validate synchronously");
    if (result.issues) throw new SchemaValidationError(query, row, result.issues);
    return result.value as QueryResultRow;
  },
};
