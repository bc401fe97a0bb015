import fs from "node:fs/promises";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrivacyService, StorageClass } from "../src/gen/cyphr/privacy/v1/privacy_pb.js";
import { STORAGE_INVENTORY } from "../src/privacy/storage-inventory.js";
import { renderStorageTable } from "../src/privacy/storage-table.js";
import { clientFor, identityClient } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { registerUser } from "./helpers/users.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

/** Every column of every table the migrations create (partitions count as their parent). */
async function storedColumns(): Promise<string[]> {
  const rows = await queryDatabase<{ name: string }>(
    server.databaseUrl,
    `
    SELECT c.table_name || '.' || c.column_name AS name
    FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = c.table_schema)
    WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema') AND NOT k.relispartition
    ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

const inventoried = () => STORAGE_INVENTORY.flatMap((t) => t.columns.map((c) => `${t.table}.${c.column}`)).sort();

describe("The storage inventory", () => {
  it("classifies every column of every table, and names no column that does not exist", async () => {
    const stored = await storedColumns();
    const listed = new Set(inventoried());
    const unclassified = stored.filter((c) => !listed.has(c));
    const stale = [...listed].filter((c) => !stored.includes(c));
    expect(unclassified, "columns without a class in src/privacy/storage-inventory.ts").toEqual([]);
    expect(stale, "inventory rows for columns that do not exist").toEqual([]);
  });

  it("gives every column a class and a reason, once", () => {
    const names = inventoried();
    expect(new Set(names).size).toBe(names.length);
    for (const t of STORAGE_INVENTORY) {
      expect(t.purpose.length, t.table).toBeGreaterThan(10);
      for (const c of t.columns) expect(c.why.length, `${t.table}.${c.column}`).toBeGreaterThan(3);
    }
  });

  it("GetStorageInventory returns the same table to a signed-in caller, every column classed", async () => {
    const user = await registerUser(identityClient("connect", server.baseUrl));
    const privacy = clientFor(PrivacyService, "grpc", server.baseUrl, { token: user.accessToken });
    const { tables } = await privacy.getStorageInventory({});
    expect(tables.map((t) => t.name)).toEqual(STORAGE_INVENTORY.map((t) => t.table));
    const columns = tables.flatMap((t) => t.columns.map((c) => `${t.name}.${c.name}`)).sort();
    expect(columns).toEqual(inventoried());
    for (const t of tables) for (const c of t.columns) expect(c.class, `${t.name}.${c.name}`).not.toBe(StorageClass.UNSPECIFIED);
    const messages = tables.find((t) => t.name === "messages")!;
    expect(messages.columns.find((c) => c.name === "ciphertext")?.class).toBe(StorageClass.CIPHERTEXT);
  });

  it("GetStorageInventory needs a token", async () => {
    const anonymous = clientFor(PrivacyService, "connect", server.baseUrl);
    await expectRpcError(anonymous.getStorageInventory({}), Code.Unauthenticated, /authorization/);
  });

  it("the README's storage table is the one generated from the inventory", async () => {
    const readme = await fs.readFile(new URL("../README.md", import.meta.url), "utf8");
    expect(readme, "README.md storage table is stale: run `npx tsx src/tools/storage-table.ts`").toContain(renderStorageTable());
  });
});
