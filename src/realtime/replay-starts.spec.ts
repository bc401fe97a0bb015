import type { DatabasePool } from "slonik";
import { describe, expect, it } from "vitest";
import { Semaphore } from "../shared/semaphore.js";
import { ReplayStarts } from "./replay-starts.js";

/** A pool answering replayStarts: one row per stream (no events), acked = the stream's position; records each statement's users. */
function fakePool(fail = false) {
  const batches: string[][] = [];
  const pool = {
    async any(query: { values: unknown[] }) {
      const users = query.values[0] as string[];
      batches.push(users);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (fail) throw new Error("connection lost");
      return users.map((_, k) => ({
        i: k + 1,
        acked: k,
        last: 10,
        oldest: 1,
        user_id: null,
        cursor: null,
        kind: null,
        chat_id: null,
        seq: null,
        data: null,
        created_at: null,
      }));
    },
  };
  return { pool: pool as unknown as DatabasePool, batches };
}

const request = (userId: string) => ({ userId, sessionId: `s-${userId}`, afterCursor: null });

describe("ReplayStarts", () => {
  it("reads the starts of streams opening together in one statement, each answer to its own stream", async () => {
    const { pool, batches } = fakePool();
    const starts = new ReplayStarts(pool, new Semaphore(1));
    const signal = new AbortController().signal;
    const answers = await Promise.all(["a", "b", "c"].map((u) => starts.start(request(u), signal)));
    expect(batches).toEqual([["a", "b", "c"]]);
    expect(answers.map((a) => a?.acked)).toEqual([0, 1, 2]);
  });

  it("gathers the streams that open while a batch runs into the next one", async () => {
    const { pool, batches } = fakePool();
    const starts = new ReplayStarts(pool, new Semaphore(1));
    const signal = new AbortController().signal;
    const first = starts.start(request("a"), signal);
    await new Promise((resolve) => setTimeout(resolve, 2)); // the first batch is running
    const later = ["b", "c", "d"].map((u) => starts.start(request(u), signal));
    await Promise.all([first, ...later]);
    expect(batches).toEqual([["a"], ["b", "c", "d"]]);
  });

  it("leaves out a stream that ended before its batch ran, and answers it undefined", async () => {
    const { pool, batches } = fakePool();
    const starts = new ReplayStarts(pool, new Semaphore(1));
    const gone = new AbortController();
    const open = new AbortController().signal;
    const answers = Promise.all([starts.start(request("a"), gone.signal), starts.start(request("b"), open)]);
    gone.abort();
    expect((await answers).map((a) => a?.acked)).toEqual([undefined, 0]);
    expect(batches).toEqual([["b"]]);
  });

  it("fails every stream of a failed batch", async () => {
    const { pool } = fakePool(true);
    const starts = new ReplayStarts(pool, new Semaphore(1));
    const signal = new AbortController().signal;
    const results = await Promise.allSettled(["a", "b"].map((u) => starts.start(request(u), signal)));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });

  it("puts at most 64 streams in one statement", async () => {
    const { pool, batches } = fakePool();
    const starts = new ReplayStarts(pool, new Semaphore(1));
    const signal = new AbortController().signal;
    await Promise.all(Array.from({ length: 100 }, (_, k) => starts.start(request(`u${k}`), signal)));
    expect(batches.map((b) => b.length)).toEqual([64, 36]);
  });
});
