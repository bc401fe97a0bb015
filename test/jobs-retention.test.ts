import { randomBytes, randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityClient } from "./helpers/clients.js";
import { queryDatabase } from "./helpers/database.js";
import { fullHistory, participants, sendTo } from "./helpers/messaging.js";
import { expectRpcError } from "./helpers/rpc-errors.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Every purge is run as of a later instant (time moved, nobody sleeps): rows past their retention go, younger ones stay. */

const DAY = 86_400_000;
const later = (days: number) => new Date(Date.now() + days * DAY);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { MESSAGE_RETENTION_DAYS: "7", CALL_RECORD_RETENTION_DAYS: "30", REFRESH_TOKEN_TTL_SECONDS: String(30 * 86_400) } });
});
afterAll(() => server?.close());

const count = async (sql: string, values: unknown[]) => (await queryDatabase<{ n: number }>(server.databaseUrl, sql, values))[0]!.n;

async function run(job: string, at: Date): Promise<number> {
  const outcome = await server.app.jobs.run(job, at);
  if (outcome.outcome !== "ok") throw new Error(`${job}: ${outcome.outcome}`);
  return outcome.rows;
}

describe("Retention jobs", () => {
  it("expired sessions go with their refresh-token rows; the refresh token then no longer works", async () => {
    const [alice] = await participants(server.baseUrl, 1);
    const sessions = () => count("SELECT count(*)::int AS n FROM sessions WHERE id = $1", [alice.sessionId]);
    const tokens = () => count("SELECT count(*)::int AS n FROM refresh_tokens WHERE session_id = $1", [alice.sessionId]);
    await run("identity.ended-sessions", later(29));
    expect([await sessions(), await tokens()]).toEqual([1, 1]);
    expect(await run("identity.ended-sessions", later(31))).toBeGreaterThanOrEqual(1);
    expect([await sessions(), await tokens()]).toEqual([0, 0]);
    await expectRpcError(identityClient("connect", server.baseUrl).refreshSession({ refreshToken: alice.refreshToken }), Code.Unauthenticated, /./);
  });

  it("a session signed out a day ago goes; one signed out just now stays", async () => {
    const [bob] = await participants(server.baseUrl, 1);
    await identityClient("connect", server.baseUrl, { token: bob.accessToken }).logout({});
    const sessions = () => count("SELECT count(*)::int AS n FROM sessions WHERE id = $1", [bob.sessionId]);
    await run("identity.ended-sessions", new Date(Date.now() + 60_000));
    expect(await sessions()).toBe(1);
    await run("identity.ended-sessions", later(1.01));
    expect(await sessions()).toBe(0);
  });

  it("call records older than CALL_RECORD_RETENTION_DAYS go with their participants", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const callId = randomUUID();
    await queryDatabase(
      server.databaseUrl,
      "INSERT INTO calls (id, chat_id, caller_id, caller_session_id, state, ring_deadline, ended_at, end_reason) VALUES ($1, $2, $3, $4, 3, now(), now(), 'missed')",
      [callId, chatId, alice.userId, alice.sessionId],
    );
    await queryDatabase(server.databaseUrl, "INSERT INTO call_participants (call_id, user_id, live) VALUES ($1, $2, false), ($1, $3, false)", [
      callId,
      alice.userId,
      bob.userId,
    ]);
    const calls = () => count("SELECT count(*)::int AS n FROM calls WHERE id = $1", [callId]);
    await run("realtime.call-records", later(29));
    expect(await calls()).toBe(1);
    await run("realtime.call-records", later(31));
    expect(await calls()).toBe(0);
    expect(await count("SELECT count(*)::int AS n FROM call_participants WHERE call_id = $1", [callId])).toBe(0);
  });

  it("with MESSAGE_RETENTION_DAYS set, messages older than that go, whatever their timer", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    await run("messaging.retention", later(6));
    expect((await fullHistory(bob, chatId)).length).toBe(1);
    await run("messaging.retention", later(8));
    expect(await fullHistory(bob, chatId)).toEqual([]);
    expect(await count("SELECT count(*)::int AS n FROM messages WHERE chat_id = $1", [chatId])).toBe(0);
  });

  it("without MESSAGE_RETENTION_DAYS no message retention job exists", async () => {
    const plain = await startTestServer();
    try {
      expect(plain.app.jobs.names()).not.toContain("messaging.retention");
      expect(plain.app.jobs.names()).toEqual(expect.arrayContaining(["identity.ended-sessions", "realtime.call-records", "events.retention"]));
    } finally {
      await plain.close();
    }
  });

  it("events older than EVENT_RETENTION_DAYS go", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    await sendTo(alice, bob);
    const events = () => count("SELECT count(*)::int AS n FROM events WHERE user_id = $1", [bob.userId]);
    expect(await events()).toBeGreaterThan(0);
    await run("events.retention", later(29));
    expect(await events()).toBeGreaterThan(0);
    await run("events.retention", later(31));
    expect(await events()).toBe(0);
  });

  it("idle rate-limit buckets go after an hour", async () => {
    const key = randomBytes(32);
    await queryDatabase(server.databaseUrl, "INSERT INTO rate_limit_buckets (key, tokens, updated_at) VALUES ($1, 3, now())", [key]);
    const buckets = () => count("SELECT count(*)::int AS n FROM rate_limit_buckets WHERE key = $1", [key]);
    await run("privacy.idle-rate-buckets", new Date(Date.now() + 30 * 60_000));
    expect(await buckets()).toBe(1);
    await run("privacy.idle-rate-buckets", new Date(Date.now() + 61 * 60_000));
    expect(await buckets()).toBe(0);
  });
});
