import { randomBytes, randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations } from "../src/db/migrate.js";
import { GroupAddPolicy } from "../src/gen/cyphr/privacy/v1/privacy_pb.js";
import { identityClient } from "./helpers/clients.js";
import { createEmptyDatabase, queryDatabase } from "./helpers/database.js";
import { privacyOf } from "./helpers/privacy.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { type RegisteredUser, registerUser } from "./helpers/users.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const privacy = (user: RegisteredUser) => privacyOf(server.baseUrl, user);

describe("Privacy settings", () => {
  it("a new account starts with the secure defaults, and has never chosen", async () => {
    const user = await registerUser(identityClient("connect", server.baseUrl));
    const own = await privacy(user).getPrivacySettings({});
    expect(own.settings).toMatchObject({
      discoverable: false,
      sharePresence: true,
      readReceipts: true,
      typingIndicators: true,
      groupAdds: GroupAddPolicy.CONTACTS,
    });
    expect(own.chosenAt).toBeUndefined();
    expect(own.encryptedSettings).toHaveLength(0);
  });

  it("UpdatePrivacySettings changes only the named fields and marks the account as having chosen; GetPrivacySettings reads them and the encrypted blob back", async () => {
    const user = await registerUser(identityClient("connect", server.baseUrl));
    const blob = randomBytes(100);
    await identityClient("connect", server.baseUrl, { token: user.accessToken }).updateProfile({
      updatePaths: ["encrypted_settings"],
      encryptedSettings: blob,
    });
    const updated = await privacy(user).updatePrivacySettings({
      updatePaths: ["read_receipts", "group_adds"],
      settings: { readReceipts: false, groupAdds: GroupAddPolicy.NOBODY, discoverable: true, typingIndicators: false },
    });
    expect(updated.settings).toMatchObject({
      discoverable: false,
      sharePresence: true,
      readReceipts: false,
      typingIndicators: true,
      groupAdds: GroupAddPolicy.NOBODY,
    });
    const own = await privacy(user).getPrivacySettings({});
    expect(own.settings).toEqual(updated.settings);
    expect(Buffer.from(own.encryptedSettings)).toEqual(blob);
    expect(own.chosenAt).toBeDefined();
  });

  it("refuses empty, unknown and repeated paths and an unspecified group policy, naming the problem", async () => {
    const user = await registerUser(identityClient("connect", server.baseUrl));
    await expectRpcError(privacy(user).updatePrivacySettings({ updatePaths: [] }), Code.InvalidArgument, /update_paths must name at least one of discoverable/);
    await expectRpcError(privacy(user).updatePrivacySettings({ updatePaths: ["colour"] }), Code.InvalidArgument, 'update_paths: unknown field "colour"');
    await expectRpcError(
      privacy(user).updatePrivacySettings({ updatePaths: ["discoverable", "discoverable"] }),
      Code.InvalidArgument,
      'update_paths names "discoverable" twice',
    );
    await expectRpcError(
      privacy(user).updatePrivacySettings({ updatePaths: ["group_adds"], settings: {} }),
      Code.InvalidArgument,
      /settings.group_adds must be/,
    );
    await expectRpcError(privacyOf(server.baseUrl, { accessToken: "" }).getPrivacySettings({}), Code.Unauthenticated, /authorization/);
  });

  it("the pool's statement timeout is DATABASE_STATEMENT_TIMEOUT_MS (default 10 s)", async () => {
    const { sql } = await import("slonik");
    const { z } = await import("zod");
    expect(await server.app.pool.oneFirst(sql.type(z.object({ statement_timeout: z.string() }))`SHOW statement_timeout`)).toBe("10s");
    const quick = await startTestServer({ env: { DATABASE_STATEMENT_TIMEOUT_MS: "250" } });
    try {
      expect(await quick.app.pool.oneFirst(sql.type(z.object({ statement_timeout: z.string() }))`SHOW statement_timeout`)).toBe("250ms");
    } finally {
      await quick.close();
    }
  });
});

describe("Migration 0012 moves accounts to the new defaults only where they never chose", () => {
  it("an account whose profile was never updated becomes undiscoverable; one that was updated keeps its choice", async () => {
    const url = await createEmptyDatabase();
    const migrations = await loadMigrations();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (const m of migrations.filter((m) => m.version < 12)) await client.query(m.sql);
      const never = randomUUID();
      const chose = randomUUID();
      const insert = "INSERT INTO identities (id, cyphr_id, identity_public_key, ml_kem_public_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)";
      const at = new Date("2026-01-01T00:00:00Z");
      await client.query(insert, [never, "never_chose", randomBytes(32), randomBytes(1568), at, at]);
      await client.query(insert, [chose, "did_choose", randomBytes(32), randomBytes(1568), at, new Date("2026-02-01T00:00:00Z")]);
      await client.query(migrations.find((m) => m.version === 12)!.sql);
      const rows = await queryDatabase<{ id: string; discoverable: boolean; privacy_chosen_at: Date | null }>(
        url,
        "SELECT id, discoverable, privacy_chosen_at FROM identities",
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.get(never)).toMatchObject({ discoverable: false, privacy_chosen_at: null });
      expect(byId.get(chose)).toMatchObject({ discoverable: true });
      expect(byId.get(chose)!.privacy_chosen_at).toEqual(new Date("2026-02-01T00:00:00Z"));
    } finally {
      await client.end();
    }
  });
});
