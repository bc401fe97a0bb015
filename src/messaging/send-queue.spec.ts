import { describe, expect, it } from "vitest";
import { SendQueue } from "./send-queue.js";

const item = (chatId: string, n: number) => ({ chatId, n });
const names = (batch: readonly { chatId: string; n: number }[]) => batch.map((i) => `${i.chatId}${i.n}`);

describe("SendQueue", () => {
  it("takes every chat's waiting sends in submission order, the chat waiting longest first", () => {
    const q = new SendQueue<{ chatId: string; n: number }>();
    for (const name of ["a1", "b1", "a2", "c1", "b2", "a3"]) q.push(item(name[0]!, Number(name[1])));
    expect(q.size).toBe(6);
    expect(names(q.take(512))).toEqual(["a1", "a2", "a3", "b1", "b2", "c1"]);
    expect(q.size).toBe(0);
    expect(q.hasReady).toBe(false);
  });

  it("leaves a chat out of the next batch while a batch with its sends is being committed", () => {
    const q = new SendQueue<{ chatId: string; n: number }>();
    q.push(item("a", 1));
    const first = q.take(512);
    q.push(item("a", 2));
    q.push(item("b", 1));
    q.push(item("a", 3));
    // a is busy: only b can go beside the first batch.
    expect(names(q.take(512))).toEqual(["b1"]);
    expect(q.hasReady).toBe(false);
    expect(q.take(512)).toEqual([]);
    q.release(first);
    expect(q.hasReady).toBe(true);
    expect(names(q.take(512))).toEqual(["a2", "a3"]);
  });

  it("splits a long run at the batch size, keeping the rest of the chat in order for the batch after", () => {
    const q = new SendQueue<{ chatId: string; n: number }>();
    for (let n = 1; n <= 5; n++) q.push(item("a", n));
    q.push(item("b", 1));
    const first = q.take(3);
    expect(names(first)).toEqual(["a1", "a2", "a3"]);
    // The rest of a waits for the first batch; b may go at once.
    expect(names(q.take(3))).toEqual(["b1"]);
    q.release(first);
    expect(names(q.take(3))).toEqual(["a4", "a5"]);
    expect(q.size).toBe(0);
  });

  it("a released chat with nothing waiting is simply free again", () => {
    const q = new SendQueue<{ chatId: string; n: number }>();
    q.push(item("a", 1));
    const first = q.take(10);
    q.release(first);
    expect(q.hasReady).toBe(false);
    q.push(item("a", 2));
    expect(names(q.take(10))).toEqual(["a2"]);
  });
});
