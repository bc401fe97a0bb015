import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../src/db/types.js";
import { messageStored } from "../src/privacy/consent.js";
import { participants, sendTo } from "./helpers/messaging.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * A burst of sends into one chat (a Connect stream starts a chat's next send once the
 * previous one is queued for commit) records the sender's consent effects once: the other
 * sends wait for that statement rather than each running the same writes on the same rows.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

/** The server's own pool, counting the statements run through it (the database is real). */
function counting(db: Db): { db: Db; statements: () => number } {
  let statements = 0;
  const wrapped = new Proxy(db, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        statements++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { db: wrapped, statements: () => statements };
}

describe("consent effects of a burst of sends", () => {
  it("twenty concurrent first replies in a chat run one statement; the one that ran it reports the accepted peer", async () => {
    const [alice, bob] = await participants(server.baseUrl, 2);
    const { chatId } = await sendTo(alice, bob);
    const { db, statements } = counting(server.app.pool);
    const answers = await Promise.all(Array.from({ length: 20 }, () => messageStored(db, chatId, bob.userId)));
    expect(statements()).toBe(1);
    expect(answers.filter((a) => a !== null)).toEqual([alice.userId]);
    // Recorded: a later send runs nothing.
    expect(await messageStored(db, chatId, bob.userId)).toBeNull();
    expect(statements()).toBe(1);
  });
});
