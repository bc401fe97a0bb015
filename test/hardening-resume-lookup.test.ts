import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Db } from "../src/db/types.js";
import { findMessagesByRef } from "../src/delivery/read-back.js";
import { participants, sendTo } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The replay's message lookup (findMessagesByRef, run for every replay chunk of every
 * reconnecting stream) is planned against the partitions of the chats it asks for, not
 * against every partition of `messages` (16 by default): its plan names only those.
 */

let server: TestServer;
let client: pg.Client;
beforeAll(async () => {
  server = await startTestServer();
  client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await server.close();
});

/** Runs the repo's query as EXPLAIN on the real database and returns the partitions of `messages` in its plan. */
async function partitionsPlannedFor(refs: { chatId: string; seq: number }[]): Promise<string[]> {
  let plan: unknown;
  const explaining = {
    any: async (query: { sql: string; values: readonly unknown[] }) => {
      // slonik numbers its placeholders $slonik_N until it runs the query.
      const text = query.sql.replace(/\$slonik_(\d+)/g, "$$$1");
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${text}`, [...query.values]);
      plan = rows[0]["QUERY PLAN"];
      return [];
    },
  } as unknown as Db;
  await findMessagesByRef(explaining, refs);
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      const relation = (node as Record<string, unknown>)["Relation Name"];
      if (typeof relation === "string" && relation.startsWith("messages_p")) names.add(relation);
      Object.values(node).forEach(walk);
    }
  };
  walk(plan);
  return [...names].sort();
}

async function partitionOf(chatId: string): Promise<string> {
  const { rows } = await client.query<{ partition: string }>("SELECT tableoid::regclass::text AS partition FROM messages WHERE chat_id = $1 LIMIT 1", [chatId]);
  return rows[0]!.partition;
}

it("a lookup of one chat's messages is planned against that chat's partition only", async () => {
  const [alice, bob] = await participants(server.baseUrl, 2);
  const { chatId } = await sendTo(alice, bob);
  await sendTo(alice, bob);
  expect(
    await partitionsPlannedFor([
      { chatId, seq: 1 },
      { chatId, seq: 2 },
    ]),
  ).toEqual([await partitionOf(chatId)]);
});

it("a lookup across three chats is planned against at most their three partitions, and still finds every message", async () => {
  const [bob, ...senders] = await participants(server.baseUrl, 4);
  const chats = await Promise.all(senders.map(async (s) => (await sendTo(s, bob)).chatId));
  const refs = chats.map((chatId) => ({ chatId, seq: 1 }));
  const expected = [...new Set(await Promise.all(chats.map(partitionOf)))].sort();
  expect(await partitionsPlannedFor(refs)).toEqual(expected);
  const found = await findMessagesByRef(server.app.pool, refs);
  expect([...found.keys()].sort()).toEqual(chats.map((c) => `${c}:1`).sort());
});
