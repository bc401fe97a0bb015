import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { loadMigrations, migrate } from "../src/db/migrate.js";
import { identityClient } from "./helpers/clients.js";
import { createEmptyDatabase, queryDatabase } from "./helpers/database.js";
import { devicesClient } from "./helpers/devices.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { loginRequest, newDevice, uniqueCyphrId } from "./helpers/users.js";

/** An account from the single-device era survives migration 0006 as device 1 and logs in with the v2 login. */

let server: TestServer | undefined;
afterAll(() => server?.close());

it("an account registered before devices existed becomes device 1 (signing key = identity key, no certificate) and logs in", async () => {
  const url = await createEmptyDatabase();
  // The schema as it was before devices: migrations 0001-0005, recorded as applied.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const old = (await loadMigrations()).filter((m) => m.version <= 5);
  await client.query(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const m of old) {
    await client.query(m.sql);
    await client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [m.version, m.name, m.checksum]);
  }
  const legacy = newDevice();
  const cyphrId = uniqueCyphrId("legacy");
  const userId = randomUUID();
  const sessionId = randomUUID();
  await client.query(`INSERT INTO identities (id, cyphr_id, identity_public_key, ml_kem_public_key, device_fingerprint_hmac) VALUES ($1, $2, $3, $4, $5)`, [
    userId,
    cyphrId,
    Buffer.from(legacy.identityPublicKey),
    Buffer.from(legacy.mlKemPublicKey),
    randomBytes(32),
  ]);
  await client.query("INSERT INTO sessions (id, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')", [sessionId, userId]);
  await client.end();

  expect(await migrate(url)).toContain("0006_devices.sql");
  const [session] = await queryDatabase<{ device_id: number }>(url, "SELECT device_id FROM sessions WHERE id = $1", [sessionId]);
  expect(session!.device_id).toBe(1);

  server = await startTestServer({ databaseUrl: url });
  const identity = identityClient("connect", server.baseUrl);
  const { nonce } = await identity.createChallenge({ cyphrId });
  // Its only key is the identity key, which is now device 1's signing key.
  const asDevice = { ...legacy, deviceSecretKey: legacy.identitySecretKey, deviceSigningKey: legacy.identityPublicKey };
  const login = await identity.login(loginRequest(asDevice, cyphrId, nonce));
  expect(login.deviceId).toBe(1);

  const list = await devicesClient("connect", server.baseUrl, { token: login.session!.accessToken }).listDevices({ cyphrId });
  expect(list.nextDeviceId).toBe(2);
  expect(list.devices).toHaveLength(1);
  expect(list.devices[0]!.certificate).toHaveLength(0);
  expect(Buffer.from(list.devices[0]!.signingKey).equals(Buffer.from(legacy.identityPublicKey))).toBe(true);
});
