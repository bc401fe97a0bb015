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
    // Timestamps as Date (slonik's default is epoch milliseconds).
    typeParsers: [
      ...createTypeParserPreset().filter((p) => p.name !== "timestamptz" && p.name !== "timestamp"),
      { name: "timestamptz", parse: (value: string) => new Date(value) },
    ],
  });
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
