import { randomBytes, randomUUID } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecentSends } from "../src/delivery/recent-sends.js";
import { commitSendBatch } from "../src/messaging/send-batch-repo.js";
import { type CommitSends, type PendingSend, SendBatcher } from "../src/messaging/send-batcher.js";
import { type Participant, participants, sendTo } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * Group commit keeps one chat's sends in submission order: a send submitted while a batch
 * holding its chat is being committed waits for that batch and joins the next one, while
 * other chats' sends go beside it (src/messaging/send-queue.ts). This is what lets a
 * Connect stream hand in its next send to a chat before the previous one has committed.
 */

let server: TestServer;
let alice: Participant;
let chatWithBob: string;
let chatWithCarol: string;

beforeAll(async () => {
  server = await startTestServer();
  const [a, bob, carol] = await participants(server.baseUrl, 3);
  alice = a!;
  chatWithBob = (await sendTo(alice, bob!)).chatId;
  chatWithCarol = (await sendTo(alice, carol!)).chatId;
});
afterAll(() => server.close());

function pendingSend(chatId: string): PendingSend {
  return {
    chatId,
    senderId: alice.userId,
    senderCyphrId: alice.cyphrId,
    clientMessageId: randomUUID(),
    messageType: 1,
    payload: { kemCiphertext: new Uint8Array(), ciphertext: randomBytes(32), nonce: randomBytes(12), tag: randomBytes(16), header: new Uint8Array() },
    expiresInSeconds: 0,
  };
}

/** A commit that records each batch (by the sends' labels) and holds the first one until `releaseFirst`. */
function recordingCommit(labels: Map<string, string>) {
  const batches: string[][] = [];
  let releaseFirst = () => {};
  const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
  const commit: CommitSends = async (db, sends) => {
    batches.push(sends.map((s) => labels.get(s.clientMessageId)!));
    if (batches.length === 1) await firstHeld;
    return commitSendBatch(db, sends);
  };
  return { commit, batches, releaseFirst };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("group commit and one chat's order", () => {
  it("a chat's sends submitted while its batch commits wait and commit together after it, in order; another chat's go beside it", async () => {
    const labels = new Map<string, string>();
    const labelled = (label: string, chatId: string) => {
      const send = pendingSend(chatId);
      labels.set(send.clientMessageId, label);
      return send;
    };
    const { commit, batches, releaseFirst } = recordingCommit(labels);
    const batcher = new SendBatcher(server.app.pool, pino({ level: "silent" }), new RecentSends(), 512, 2, commit);

    const first = batcher.submit(labelled("bob1", chatWithBob));
    await tick();
    const later = [labelled("bob2", chatWithBob), labelled("carol1", chatWithCarol), labelled("bob3", chatWithBob)].map((s) => batcher.submit(s));
    await tick();
    // The second transaction may run now, but not with bob's chat: only carol's send goes.
    expect(batches).toEqual([["bob1"], ["carol1"]]);
    releaseFirst();
    const [r1, r2, , r3] = await Promise.all([first, ...later]);
    expect(batches).toEqual([["bob1"], ["carol1"], ["bob2", "bob3"]]);
    expect([r2!.seq - r1!.seq, r3!.seq - r2!.seq]).toEqual([1, 1]);
  });
});
