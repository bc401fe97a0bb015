import pg from "pg";

/** One column of one table, where a scan found the needle. */
export interface ColumnHit {
  table: string;
  column: string;
  rows: number;
}

/**
 * Searches every column of every table of the database for `needle`: each column cast to
 * text (bytea then reads as \x<hex>) for the needle's text, hex and base64 forms, and
 * bytea columns also byte-wise (position of the raw bytes) and in their escape encoding.
 * Returns every column that contains it; an empty list means the value is nowhere.
 */
export async function findEverywhere(databaseUrl: string, needle: Uint8Array): Promise<ColumnHit[]> {
  const bytes = Buffer.from(needle);
  // Text parameters cannot carry NUL or invalid UTF-8; such needles are searched as bytes and hex only.
  const asText = bytes.toString("utf8");
  const isText = !bytes.includes(0) && Buffer.from(asText, "utf8").equals(bytes);
  const forms = [isText ? asText : bytes.toString("hex"), bytes.toString("hex"), bytes.toString("base64")];
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows: columns } = await client.query<{ schema: string; table: string; column: string; type: string }>(`
      SELECT c.table_schema AS schema, c.table_name AS table, c.column_name AS column, c.data_type AS type
      FROM information_schema.columns c
      JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 1, 2, 3`);
    if (columns.length === 0) throw new Error("no tables found: is this the right database?");
    const tables = new Map<string, typeof columns>();
    for (const c of columns) {
      const qualified = `${client.escapeIdentifier(c.schema)}.${client.escapeIdentifier(c.table)}`;
      tables.set(qualified, [...(tables.get(qualified) ?? []), c]);
    }
    const hits: ColumnHit[] = [];
    for (const [qualified, tableColumns] of tables) {
      // One pass over each table: a count per column of the rows holding the needle in any form.
      const counts = tableColumns.map(({ column, type }) => {
        const col = client.escapeIdentifier(column);
        const text = `${col}::text`;
        const conditions = [`position($1 in ${text}) > 0`, `position($2 in ${text}) > 0`, `position($3 in ${text}) > 0`];
        if (type === "bytea") conditions.push(`position($4::bytea in ${col}) > 0`, `position($1 in encode(${col}, 'escape')) > 0`);
        return `count(*) FILTER (WHERE ${conditions.join(" OR ")})::int`;
      });
      const hasBytea = tableColumns.some((c) => c.type === "bytea");
      const { rows } = await client.query<{ counts: number[] }>(
        `SELECT ARRAY[${counts.join(", ")}] AS counts FROM ${qualified}`,
        hasBytea ? [...forms, bytes] : forms,
      );
      rows[0]!.counts.forEach((n, i) => {
        const { schema, table, column } = tableColumns[i]!;
        if (n > 0) hits.push({ table: `${schema}.${table}`, column, rows: n });
      });
    }
    return hits;
  } finally {
    await client.end();
  }
}
