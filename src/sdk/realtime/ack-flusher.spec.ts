import { describe, expect, it } from "vitest";
import { CyphrError } from "../errors.js";
import { MemoryStore } from "../store.js";
import { AckFlusher } from "./ack-flusher.js";
import { loadCursor } from "./cursor-store.js";
import type { LiveEvent } from "./events.js";

function flusher(options: { handled: () => bigint | undefined; stream?: () => boolean; deliver?: (chat: string, seq: bigint) => Promise<void> }) {
  const store = new MemoryStore();
  const acks: bigint[] = [];
  const delivered: string[] = [];
  const events: LiveEvent[] = [];
  const f = new AckFlusher({
    store,
    handled: options.handled,
    ack: async (c) => {
      if (options.stream && !options.stream()) return false;
      acks.push(c);
      return true;
    },
    markDelivered: async (chat, seq) => {
      await options.deliver?.(chat, seq);
      delivered.push(`${chat}@${seq}`);
    },
    emit: async (e) => void events.push(e),
  });
  return { f, store, acks, delivered, events };
}

describe("Live's coalesced flush", () => {
  it("stores and acks the handled cursor once per change, and each chat's highest delivered seq", async () => {
    let cursor: bigint | undefined;
    const { f, store, acks, delivered } = flusher({ handled: () => cursor });
    await f.flush();
    expect([await loadCursor(store), acks]).toEqual([undefined, []]);
    cursor = 7n;
    f.delivered("a", 3n);
    f.delivered("a", 5n);
    f.delivered("a", 4n);
    f.delivered("b", 1n);
    await f.flush();
    await f.flush();
    expect([await loadCursor(store), acks, delivered]).toEqual([7n, [7n], ["a@5", "b@1"]]);
  });

  it("acks again once a stream is there, and keeps receipts that failed in transit for the next flush", async () => {
    let up = false;
    let failing = true;
    const { f, acks, delivered, events } = flusher({
      handled: () => 9n,
      stream: () => up,
      deliver: async () => {
        if (failing) throw new CyphrError("unavailable", "offline");
      },
    });
    f.delivered("a", 2n);
    await f.flush();
    expect([acks, delivered, events]).toEqual([[], [], []]);
    up = true;
    failing = false;
    await f.flush();
    expect([acks, delivered]).toEqual([[9n], ["a@2"]]);
  });

  it("reports a receipt the server refuses as an error event and drops it", async () => {
    const { f, events } = flusher({
      handled: () => undefined,
      deliver: async () => {
        throw new CyphrError("not_found", "chat gone");
      },
    });
    f.delivered("a", 2n);
    await f.flush();
    await f.flush();
    expect(events).toMatchObject([{ kind: "error", chatId: "a", error: { code: "not_found" } }]);
  });
});
