import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../src/gen/grpc/health/v1/health_pb.js";
import { PROTOCOLS, transportFor } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { grpcAddress, grpcJsClientConstructor, unary } from "./helpers/grpc-js.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const IDENTITY_SERVICE = "cyphr.identity.v1.IdentityService";

/** Reads a server stream message by message, each within a deadline. */
function reader<T>(stream: AsyncIterable<T>) {
  const iterator = stream[Symbol.asyncIterator]();
  return {
    next(timeoutMs = 5_000): Promise<IteratorResult<T>> {
      return Promise.race([
        iterator.next(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no stream message within ${timeoutMs} ms`)), timeoutMs)),
      ]);
    },
  };
}

async function expectNoMessageWithin<T>(next: Promise<IteratorResult<T>>, ms: number): Promise<void> {
  const outcome = await Promise.race([next.then(() => "message"), new Promise((r) => setTimeout(() => r("quiet"), ms))]);
  expect(outcome).toBe("quiet");
}

describe("grpc.health.v1.Health while the database is ready", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  describe.each(PROTOCOLS)("over %s", (protocol) => {
    let health: Client<typeof Health>;
    beforeAll(() => {
      health = createClient(Health, transportFor(protocol, server.baseUrl));
    });

    it("Check reports SERVING for the whole server and for IdentityService", async () => {
      expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
      expect((await health.check({ service: IDENTITY_SERVICE })).status).toBe(Status.SERVING);
    });

    it("Check of an unknown service fails with NOT_FOUND", async () => {
      const error = await health.check({ service: "cyphr.nothing.v1.NothingService" }).catch((e: unknown) => e);
      expect(ConnectError.from(error).code).toBe(Code.NotFound);
    });

    it("Watch sends the current status at once", async () => {
      const abort = new AbortController();
      const stream = reader(health.watch({ service: IDENTITY_SERVICE }, { signal: abort.signal }));
      expect((await stream.next()).value?.status).toBe(Status.SERVING);
      abort.abort();
    });

    it("Watch of an unknown service sends SERVICE_UNKNOWN and keeps the stream open", async () => {
      const abort = new AbortController();
      const stream = reader(health.watch({ service: "cyphr.nothing.v1.NothingService" }, { signal: abort.signal }));
      const first = await stream.next();
      expect(first.done).toBe(false);
      expect(first.value?.status).toBe(Status.SERVICE_UNKNOWN);
      await expectNoMessageWithin(stream.next(), 300);
      abort.abort();
    });
  });

  describe("over grpc-js with the vendored health.proto", () => {
    let client: grpc.Client;
    beforeAll(() => {
      const HealthClient = grpcJsClientConstructor("grpc/health/v1/health.proto", "grpc.health.v1.Health");
      client = new HealthClient(grpcAddress(server.baseUrl), grpc.credentials.createInsecure());
    });
    afterAll(() => client.close());

    it("Check reports SERVING for the whole server and for IdentityService", async () => {
      expect(await unary(client, "Check", { service: "" })).toEqual({ status: "SERVING" });
      expect(await unary(client, "Check", { service: IDENTITY_SERVICE })).toEqual({ status: "SERVING" });
    });

    it("Check of an unknown service fails with status 5 NOT_FOUND", async () => {
      const error = (await unary(client, "Check", { service: "nope" }).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(error.code).toBe(grpc.status.NOT_FOUND);
    });

    it("Watch streams SERVING first", async () => {
      const call = (client as unknown as { Watch(req: object): grpc.ClientReadableStream<{ status: string }> }).Watch({ service: "" });
      const first = await new Promise<{ status: string }>((resolve, reject) => {
        call.once("data", resolve);
        call.once("error", reject);
      });
      expect(first).toEqual({ status: "SERVING" });
      call.on("error", () => undefined); // the cancel below surfaces as CANCELLED
      call.cancel();
    });
  });
});

describe("grpc.health.v1.Health when readiness is lost", () => {
  let server: TestServer;
  let health: Client<typeof Health>;
  beforeAll(async () => {
    server = await startTestServer({ env: { HEALTH_CHECK_INTERVAL_MS: "200" } });
    health = createClient(Health, transportFor("grpc", server.baseUrl));
  });
  afterAll(() => server.close());
  // Each test starts ready: the monitor may not yet have seen the previous test's restore.
  beforeEach(async () => {
    for (let waited = 0; !server.app.health.isServing; waited += 50) {
      if (waited > 5_000) throw new Error("server did not become ready again");
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  interface MigrationRow {
    version: number;
    name: string;
    checksum: string;
    applied_at: Date;
  }

  /** Makes the database look un-migrated: the readiness check compares the newest applied version. */
  async function forgetNewestMigration(): Promise<MigrationRow> {
    const [row] = await queryDatabase<MigrationRow>(
      server.databaseUrl,
      "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations) RETURNING *",
    );
    expect(row).toBeDefined();
    return row!;
  }

  async function restore(row: MigrationRow): Promise<void> {
    await queryDatabase(server.databaseUrl, "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)", [
      row.version,
      row.name,
      row.checksum,
      row.applied_at,
    ]);
  }

  async function readyz(): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${server.baseUrl}/readyz`);
    return { status: res.status, body: await res.json() };
  }

  it("Watch sends NOT_SERVING and /readyz answers 503 when a migration goes missing", async () => {
    const abort = new AbortController();
    const stream = reader(health.watch({ service: IDENTITY_SERVICE }, { signal: abort.signal }));
    expect((await stream.next()).value?.status).toBe(Status.SERVING);
    expect(await readyz()).toEqual({ status: 200, body: { status: "ready" } });

    const row = await forgetNewestMigration();
    try {
      expect((await stream.next(5_000)).value?.status).toBe(Status.NOT_SERVING);
      expect(await readyz()).toEqual({ status: 503, body: { status: "not ready" } });
      expect((await health.check({ service: "" })).status).toBe(Status.NOT_SERVING);
    } finally {
      await restore(row);
      abort.abort();
    }
  });

  it("Watch sends SERVING again once the database is migrated again", async () => {
    const abort = new AbortController();
    const stream = reader(health.watch({ service: "" }, { signal: abort.signal }));
    expect((await stream.next()).value?.status).toBe(Status.SERVING);
    const row = await forgetNewestMigration();
    try {
      expect((await stream.next(5_000)).value?.status).toBe(Status.NOT_SERVING);
    } finally {
      await restore(row);
    }
    expect((await stream.next(5_000)).value?.status).toBe(Status.SERVING);
    expect((await readyz()).status).toBe(200);
    abort.abort();
  });
});
