import { afterEach, describe, expect, it } from "vitest";
import { loadMigrations } from "../src/db/migrate.js";
import { createEmptyDatabase, queryDatabase, TEMPLATE_DATABASE } from "./helpers/database.js";
import { runScript, type ServerProcess, spawnServer } from "./helpers/process.js";

/**
 * Instances migrate their database on start-up under an advisory lock; `npm run migrate`
 * (src/db/migrate-cli.ts) does the same and nothing else.
 */

interface MigrationRow {
  version: number;
  name: string;
  applied_at: Date;
}

const running: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.kill()));
});

async function emptyDatabase(): Promise<string> {
  const url = await createEmptyDatabase();
  expect(new URL(url).pathname).not.toBe(`/${TEMPLATE_DATABASE}`);
  const [table] = await queryDatabase<{ exists: boolean }>(url, "SELECT to_regclass('schema_migrations') IS NOT NULL AS exists");
  expect(table!.exists).toBe(false);
  return url;
}

async function appliedMigrations(url: string): Promise<MigrationRow[]> {
  return queryDatabase<MigrationRow>(url, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version, applied_at");
}

async function expectedVersions(): Promise<number[]> {
  return (await loadMigrations()).map((m) => m.version);
}

describe("migrations", () => {
  it("two instances starting together on an empty database both become ready, and each migration is applied once", async () => {
    const url = await emptyDatabase();
    const [a, b] = await Promise.all([spawnServer({ DATABASE_URL: url, LOG_LEVEL: "info" }), spawnServer({ DATABASE_URL: url, LOG_LEVEL: "info" })]);
    running.push(a!, b!);
    await Promise.all([a!.waitUntilReady(60_000), b!.waitUntilReady(60_000)]);

    const rows = await appliedMigrations(url);
    expect(rows.map((r) => r.version)).toEqual(await expectedVersions());
    // Exactly one instance applied them; the other found them applied.
    const appliedBy = (server: ServerProcess) =>
      server
        .stdout()
        .split("\n")
        .filter((line) => line.includes('"applied migration '));
    const counts = [appliedBy(a!).length, appliedBy(b!).length].sort();
    expect(counts).toEqual([0, rows.length]);
  }, 120_000);

  it("migrate-cli applies pending migrations, and a second run applies nothing and exits 0", async () => {
    const url = await emptyDatabase();
    const env = { DATABASE_URL: url, LOG_LEVEL: "info" };

    const first = await runScript("src/db/migrate-cli.ts", env);
    expect(first.code, first.stderr).toBe(0);
    const versions = await expectedVersions();
    expect(first.stdout).toContain(`"applied":${versions.length}`);
    const afterFirst = await appliedMigrations(url);
    expect(afterFirst.map((r) => r.version)).toEqual(versions);

    const second = await runScript("src/db/migrate-cli.ts", env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('"applied":0');
    expect(second.stdout).toContain("database already up to date");
    expect(second.stdout).not.toContain("applied migration");
    expect(await appliedMigrations(url)).toEqual(afterFirst);
  }, 120_000);

  it("migrate-cli exits 1 and names the problem when the database is unreachable", async () => {
    const url = new URL(await createEmptyDatabase());
    url.pathname = "/cyphr_no_such_database";
    const result = await runScript("src/db/migrate-cli.ts", { DATABASE_URL: url.toString(), LOG_LEVEL: "info" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("migration failed:");
    expect(result.stderr).toContain("cyphr_no_such_database");
    expect(result.stderr + result.stdout).not.toContain(url.password || "no password in url");
  }, 60_000);
});
