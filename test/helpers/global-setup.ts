import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { pino } from "pino";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";
import { migrate } from "../../src/db/migrate.js";
import { TEMPLATE_DATABASE } from "./database.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of a database whose role may CREATE DATABASE; test files clone the template from it. */
    databaseAdminUrl: string;
  }
}

/**
 * Starts one real PostgreSQL for the whole run (embedded, in a temporary folder) unless
 * DATABASE_URL points at one, and prepares a migrated template database that each test
 * file clones into a database of its own.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let stop = async () => {};
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "cyphr-test-"));
    await fs.chmod(dir, 0o711);
    const embedded = await startEmbeddedPostgres(dir, pino({ level: "silent" }));
    adminUrl = embedded.url;
    stop = async () => {
      await embedded.stop();
      await fs.rm(dir, { recursive: true, force: true });
    };
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  await migrate(withDatabase(adminUrl, TEMPLATE_DATABASE));
  project.provide("databaseAdminUrl", adminUrl);
  return stop;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
