import { randomBytes, randomUUID } from "node:crypto";
import { pino } from "pino";
import { sql } from "slonik";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { isDatabaseUnavailable } from "../src/db/connection-loss.js";
import { RecentSends } from "../src/delivery/recent-sends.js";
import { commitSendBatch } from "../src/messaging/send-batch-repo.js";
import { type CommitSends, type PendingSend, SendBatcher } from "../src/messaging/send-batcher.js";
import { queryDatabase } from "./helpers/database.js";
import { type Participant, participants, sendTo } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * `duplicate: true` answers a client's retry of a send that was stored before. A batch
 * that fails after its commit is retried by the server itself (as a whole when its
 * connection was lost, else one send at a time); that retry finds the rows the batch
 * committed, and must answer them as the ordinary successes they are (issue #9, item 16).
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
 * A commit of batches of two or more sends that goes wrong after the rows are committed,
 * `times` times: "lose-connection" terminates the backend before the answer is read (as a
 * crash or failover would), "fail" throws an ordinary error. Counts the attempts.
 */
function commitThenFail(fault: "lose-connection" | "fail", times = 1): { commit: CommitSends; attempts: () => number } {
  let attempts = 0;
  const commit: CommitSends = async (db, sends) => {
    if (sends.length < 2) return commitSendBatch(db, sends);
    attempts++;
    if (attempts > times) return commitSendBatch(db, sends);
    return server.app.pool.connect(async (connection) => {
      const pid = await connection.oneFirst(sql.type(z.object({ pid: z.number() }))`/* backendPid */ SELECT pg_backend_pid() AS pid`);
      await commitSendBatch(connection, sends);
      if (fault === "fail") throw new TypeError("failed after the commit");
      await queryDatabase(server.databaseUrl, "SELECT pg_terminate_backend($1)", [pid]);
      await connection.query(sql.unsafe`/* afterCommit */ SELECT 1`);
      throw new Error("the terminated connection answered a query");
    });
  };
  return { commit, attempts: () => attempts };
}

/** One commit at a time: the first send goes alone, the next ones wait and form one batch. */
function batcherWith(commit: CommitSends): SendBatcher {
  return new SendBatcher(server.app.pool, pino({ level: "silent" }), new RecentSends(), 512, 1, commit);
}

async function storedCopies(clientMessageId: string): Promise<string[]> {
  const rows = await queryDatabase<{ id: string }>(server.databaseUrl, "SELECT id FROM messages WHERE sender_id = $1 AND client_message_id = $2", [
    alice.userId,
    clientMessageId,
  ]);
  return rows.map((r) => r.id);
}

describe("a batch that failed after its commit", () => {
  it("lost its connection: retried as a whole, each send answered as stored once, not as a duplicate; a real retry afterwards is the duplicate", async () => {
    const { commit, attempts } = commitThenFail("lose-connection");
    const batcher = batcherWith(commit);
    const sends = [pendingSend(), pendingSend(), pendingSend(), pendingSend()];

    const results = await Promise.all(sends.map((s) => batcher.submit(s)));

    expect(attempts()).toBe(2);
    expect(results.map((r) => r.duplicate)).toEqual([false, false, false, false]);
    for (const [i, send] of sends.entries()) expect(await storedCopies(send.clientMessageId)).toEqual([results[i]!.messageId]);

    const retry = await batcher.submit(pendingSend(sends[2]!.clientMessageId));
    expect(retry).toMatchObject({ duplicate: true, messageId: results[2]!.messageId, seq: results[2]!.seq });
  });

  it("failed otherwise: retried one send at a time, each answered as stored once, not as a duplicate", async () => {
    const batcher = batcherWith(commitThenFail("fail").commit);
    const sends = [pendingSend(), pendingSend(), pendingSend()];

    const results = await Promise.all(sends.map((s) => batcher.submit(s)));

    expect(results.map((r) => r.duplicate)).toEqual([false, false, false]);
    for (const [i, send] of sends.entries()) expect(await storedCopies(send.clientMessageId)).toEqual([results[i]!.messageId]);
  });

  it("lost its connection twice: every send of the batch fails with the connection loss after two attempts, not one attempt per send", async () => {
    const { commit, attempts } = commitThenFail("lose-connection", 2);
    const batcher = batcherWith(commit);
    const sends = [pendingSend(), pendingSend(), pendingSend(), pendingSend()];

    const [first, ...batched] = await Promise.allSettled(sends.map((s) => batcher.submit(s)));

    expect(first!.status).toBe("fulfilled");
    expect(batched.map((r) => r.status === "rejected" && isDatabaseUnavailable(r.reason))).toEqual([true, true, true]);
    expect(attempts()).toBe(2);
  });
});
