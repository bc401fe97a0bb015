import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus as Status } from "../src/gen/grpc/health/v1/health_pb.js";
import { type Participant, participants, sendTo } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * A database that accepts connections but does not answer (here: the probe's table is
 * locked; in the field a wedged pool or a half-open socket) reads as not ready within
 * HEALTH_CHECK_TIMEOUT_MS instead of hanging /readyz and leaving health SERVING; a flood
 * of readiness checks cannot take the pool from other calls (issue #9, item 14).
 */

const TIMEOUT_MS = 1000;
/** Far above the probe's timeout: a /readyz still unanswered by then hangs. */
const ANSWER_BOUND_MS = 8_000;

let server: TestServer;
let alice: Participant;
let bob: Participant;

beforeAll(async () => {
  server = await startTestServer({ env: { HEALTH_CHECK_INTERVAL_MS: "200", HEALTH_CHECK_TIMEOUT_MS: String(TIMEOUT_MS), DATABASE_POOL_SIZE: "4" } });
  [alice, bob] = await participants(server.baseUrl, 2);
  await sendTo(alice, bob);
});
afterAll(() => server.close());

async function readyz(): Promise<number> {
  const res = await fetch(`${server.baseUrl}/readyz`, { signal: AbortSignal.timeout(ANSWER_BOUND_MS) });
  await res.body?.cancel();
  return res.status;
}

async function waitFor(condition: () => boolean, boundMs: number, what: string): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a database that stops answering the health probe", () => {
  it("reads as not ready (503, NOT_SERVING) instead of hanging, holds one connection for a flood of /readyz, and is ready again once it answers", async () => {
    const locker = new pg.Client({ connectionString: server.databaseUrl });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE");

      expect(await readyz()).toBe(503);
      await waitFor(() => server.app.health.statusOf("") === Status.NOT_SERVING, ANSWER_BOUND_MS, "health NOT_SERVING");

      // Four times the pool in readiness checks: all answered, and other calls still get connections.
      const flood = await Promise.all(Array.from({ length: 16 }, readyz));
      expect(flood.every((status) => status === 503)).toBe(true);
      const { chats } = await bob.messaging.listChats({}, { timeoutMs: ANSWER_BOUND_MS });
      expect(chats).toHaveLength(1);
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
    }
    await waitFor(() => server.app.health.statusOf("") === Status.SERVING, ANSWER_BOUND_MS, "health SERVING again");
    expect(await readyz()).toBe(200);
  }, 60_000);
});
