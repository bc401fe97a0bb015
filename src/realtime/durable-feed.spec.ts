import type { DatabasePool } from "slonik";
import { describe, expect, it, vi } from "vitest";
import { Semaphore } from "../shared/semaphore.js";
import { DurableFeed, type FeedTarget } from "./durable-feed.js";
import type { ReplayStarts } from "./replay-starts.js";

/** Replay starts that stay queued until their signal aborts, as ReplayStarts answers a stream that went away (undefined). */
function queuedStarts() {
  const signals: AbortSignal[] = [];
  const starts = {
    start(_request: unknown, signal: AbortSignal) {
      signals.push(signal);
      if (signal.aborted) return Promise.resolve(undefined);
      return new Promise((resolve) => signal.addEventListener("abort", () => resolve(undefined), { once: true }));
    },
  };
  return { starts: starts as unknown as ReplayStarts, signals };
}

function feedWith(starts: ReplayStarts) {
  const target: FeedTarget = { userId: "u", sessionId: "s", deviceId: 1, queueFrame: vi.fn(), bufferSpace: async () => undefined, failUnexpected: vi.fn() };
  const feed = new DurableFeed({ pool: undefined as unknown as DatabasePool, replaySlots: new Semaphore(1), replayStarts: starts }, target);
  return { feed, target };
}

describe("DurableFeed when its stream ends", () => {
  it("drops a replay start still queued: stop() aborts the signal the read waits on, and nothing is delivered", async () => {
    const { starts, signals } = queuedStarts();
    const { feed, target } = feedWith(starts);
    const replay = feed.replay(5n);
    await new Promise((resolve) => setImmediate(resolve));
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(false);
    feed.stop();
    await replay;
    expect(signals[0]!.aborted).toBe(true);
    expect(target.queueFrame).not.toHaveBeenCalled();
  });

  it("hands a read begun after the stream ended a signal that is already aborted", async () => {
    const { starts, signals } = queuedStarts();
    const { feed, target } = feedWith(starts);
    feed.stop();
    await feed.replay(5n);
    expect(signals.map((s) => s.aborted)).toEqual([true]);
    expect(target.queueFrame).not.toHaveBeenCalled();
  });
});
