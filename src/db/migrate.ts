import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

/** `migrations/` at the repository root. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

/** Arbitrary constant: the advisory lock every Cyphr instance takes while migrating. */
const MIGRATION_LOCK_KEY = 7_340_912_115;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateOptions {
  /** Values exposed to migrations as `current_setting('cyphr.<name>')`, e.g. partition counts. */
  settings?: Record<string, string>;
  log?: (message: string) => void;
}

/** Reads `NNNN_name.sql` files in version order; rejects gaps and duplicates. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const [index, file] of files.entries()) {
    const match = /^(\d{4})_[a-z0-9_]+\.sql$/.exec(file);
    if (!match) throw new Error(`migration file ${file} must be named NNNN_lower_snake_name.sql`);
    const version = Number(match[1]);
    if (version !== index + 1) throw new Error(`migration ${file} is out of sequence: expected version ${index + 1}`);
    const sql = await fs.readFile(path.join(dir, file), "utf8");
    migrations.push({ version, name: file, sql, checksum: createHash("sha256").update(sql).digest("hex") });
  }
  return migrations;
}

/**
 * Applies pending migrations, each once and in its own transaction, under a session
 * advisory lock so that instances starting together cannot race. Uses a plain pg client
 * rather than the slonik pool: migration files hold several statements, which only the
 * simple query protocol accepts, and the lock must stay on one connection throughout.
 * Returns the names of the migrations it applied.
 */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<string[]> {
  const migrations = await loadMigrations();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query("SET client_min_messages = warning");
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Map<number, { name: string; checksum: string }>();
    const rows = await client.query<{ version: number; name: string; checksum: string }>(
      "/* listAppliedMigrations */ SELECT version, name, checksum FROM schema_migrations",
    );
    for (const row of rows.rows) done.set(row.version, row);

    for (const migration of migrations) {
      const previous = done.get(migration.version);
      if (previous) {
        if (previous.checksum !== migration.checksum) {
          throw new Error(`migration ${migration.name} was changed after it was applied; add a new migration instead`);
        }
        continue;
      }
      await client.query("BEGIN");
      try {
        for (const [name, value] of Object.entries(options.settings ?? {})) {
          await client.query("SELECT set_config($1, $2, true)", [`cyphr.${name}`, value]);
        }
        await client.query(migration.sql);
        await client.query("/* recordMigration */ INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
      options.log?.(`applied migration ${migration.name}`);
      applied.push(migration.name);
    }
    const newest = migrations.at(-1)?.version ?? 0;
    const unknown = [...done.keys()].filter((v) => v > newest);
    if (unknown.length > 0) {
      throw new Error(`the database has migrations this build does not know (${unknown.join(", ")}); run a newer Cyphr`);
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
  return applied;
}
