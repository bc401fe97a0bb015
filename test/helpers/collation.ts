import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { migrate } from "../../src/db/migrate.js";

/**
 * Creates a migrated database whose default collation is ICU's root locale ("und"), the
 * linguistic order most production clusters use (like en_US.UTF-8): punctuation sorts
 * before digits, unlike byte order. Returns its URL.
 */
export async function createLinguisticCollationDatabase(): Promise<string> {
  const adminUrl = inject("databaseAdminUrl");
  const name = `cyphr_icu_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'und'`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  return url.toString();
}
