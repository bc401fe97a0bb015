import { randomBytes, randomUUID } from "node:crypto";
import { pino } from "pino";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { participants, sendTo, type Participant } from "./helpers/messaging.js";
import { queryDatabase } from "./helpers/database.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { RecentSends } from "../src/messaging/recent-sends.js";
import { SendBatcher, type CommitSends, type PendingSend } from "../src/messaging/send-batcher.js";
import { commitSendBatch } from "../src/messaging/send-batch-repo.js";

/**
 * `duplicate: true` answers a client's retry of a send that was stored before. A batch
 * whose connection dies after its commit is retried one send at a time by the server
 * itself; that retry finds the rows the batch committed, and must answer them as the
 * ordinary successes they are (issue #9, item 16).
 */

let server: TestServer;
let alice: Participant;
let bob: Participant;
let chatId: string;

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob] = await participants(server.baseUrl, 2);
  chatId = (await sendTo(alice, bob)).chatId;
});
afterAll(() => server.close());

function pendingSend(clientMessageId: string = randomUUID()): PendingSend {
  return {
    chatId,
    senderId: alice.userId,
    senderCyphrId: alice.cyphrId,
    clientMessageId,
    messageType: 1,
    payload: { kemCiphertext: new Uint8Array(), ciphertext: randomBytes(32), nonce: randomBytes(12), tag: randomBytes(16), header: new Uint8Array() },
    expiresInSeconds: 0,
  };
}

/**
 * Commits the first batch of two or more sends for real, then loses its connection
 * before the answer is read (the backend is terminated, as a crash or failover would):
 * the batch fails as a whole although its rows are committed.
 */
function commitThenLoseConnection(): { commit: CommitSends; faults: () => number } {
  let faults = 0;
  const commit: CommitSends = async (db, sends) => {
    if (sends.length < 2 || faults > 0) return commitSendBatch(db, sends);
    faults++;
    return server.app.pool.connect(async (connection) => {
      const pid = await connection.oneFirst(sql.type(z.object({ pid: z.number() }))`/* backendPid */ SELECT pg_backend_pid() AS pid`);
      await commitSendBatch(connection, sends);
      await queryDatabase(server.databaseUrl, "SELECT pg_terminate_backend($1)", [pid]);
      await connection.query(sql.unsafe`/* afterCommit */ SELECT 1`);
      throw new Error("the terminated connection answered a query");
    });
  };
  return { commit, faults: () => faults };
}

async function storedCopies(clientMessageId: string): Promise<string[]> {
  const rows = await queryDatabase<{ id: string }>(server.databaseUrl, "SELECT id FROM messages WHERE sender_id = $1 AND client_message_id = $2", [
    alice.userId,
    clientMessageId,
  ]);
  return rows.map((r) => r.id);
}

describe("a batch whose connection died after its commit", () => {
  it("answers each of its sends as stored once, not as a duplicate; a real retry afterwards is the duplicate", async () => {
    const { commit, faults } = commitThenLoseConnection();
    // One commit at a time: the first send goes alone, the next three wait and form one batch.
    const batcher = new SendBatcher(server.app.pool, pino({ level: "silent" }), new RecentSends(), 512, 1, commit);
    const sends = [pendingSend(), pendingSend(), pendingSend(), pendingSend()];

    const results = await Promise.all(sends.map((s) => batcher.submit(s)));

    expect(faults()).toBe(1);
    expect(results.map((r) => r.duplicate)).toEqual([false, false, false, false]);
    for (const [i, send] of sends.entries()) expect(await storedCopies(send.clientMessageId)).toEqual([results[i]!.messageId]);

    const retry = await batcher.submit(pendingSend(sends[2]!.clientMessageId));
    expect(retry).toMatchObject({ duplicate: true, messageId: results[2]!.messageId, seq: results[2]!.seq });
  });
});
