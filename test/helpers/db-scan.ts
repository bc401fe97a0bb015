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
  return (await findAllEverywhere(databaseUrl, [needle])).map(({ needle: _n, ...hit }) => hit);
}

/**
 * findEverywhere for many needles at once, one pass over each table (a few for wide
 * tables): the hits of every needle, each naming the needle's index.
 */
export async function findAllEverywhere(databaseUrl: string, needles: readonly Uint8Array[]): Promise<(ColumnHit & { needle: number })[]> {
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
    const forms = needles.map((needle) => {
      const bytes = Buffer.from(needle);
      const asText = bytes.toString("utf8");
      const isText = !bytes.includes(0) && Buffer.from(asText, "utf8").equals(bytes);
      return { text: isText ? asText : bytes.toString("hex"), hex: bytes.toString("hex"), base64: bytes.toString("base64"), raw: bytes };
    });
    const tables = new Map<string, typeof columns>();
    for (const c of columns) {
      const qualified = `${client.escapeIdentifier(c.schema)}.${client.escapeIdentifier(c.table)}`;
      tables.set(qualified, [...(tables.get(qualified) ?? []), c]);
    }
    const hits: (ColumnHit & { needle: number })[] = [];
    for (const [qualified, tableColumns] of tables) {
      // One aggregate per (column, needle); PostgreSQL takes at most 1,664 a query, so wide tables take a few passes.
      const perPass = Math.max(1, Math.floor(1000 / tableColumns.length));
      for (let first = 0; first < forms.length; first += perPass) {
        const params: unknown[] = [];
        const param = (value: unknown) => `$${params.push(value)}`;
        const cells: { column: (typeof columns)[number]; needle: number }[] = [];
        const counts: string[] = [];
        const pass = forms.slice(first, first + perPass).map((f, i) => ({ needle: first + i, f, p: {} as Record<string, string> }));
        for (const column of tableColumns) {
          const col = client.escapeIdentifier(column.column);
          for (const n of pass) {
            n.p.text ??= param(n.f.text);
            n.p.hex ??= param(n.f.hex);
            n.p.base64 ??= param(n.f.base64);
            const conditions = [
              `position(${n.p.text}::text in ${col}::text) > 0`,
              `position(${n.p.hex}::text in ${col}::text) > 0`,
              `position(${n.p.base64}::text in ${col}::text) > 0`,
            ];
            if (column.type === "bytea") {
              conditions.push(`position(${(n.p.raw ??= param(n.f.raw))}::bytea in ${col}) > 0`, `position(${n.p.text}::text in encode(${col}, 'escape')) > 0`);
            }
            counts.push(`count(*) FILTER (WHERE ${conditions.join(" OR ")})::int`);
            cells.push({ column, needle: n.needle });
          }
        }
        const { rows } = await client.query<{ counts: number[] }>(`SELECT ARRAY[${counts.join(", ")}] AS counts FROM ${qualified}`, params);
        rows[0]!.counts.forEach((count, i) => {
          const { column, needle } = cells[i]!;
          if (count > 0) hits.push({ table: `${column.schema}.${column.table}`, column: column.column, rows: count, needle });
        });
      }
    }
    return hits;
  } finally {
    await client.end();
  }
}
