import { describe, expect, it } from "vitest";
import { Emitter } from "./emitter.js";
import type { LiveEvent } from "./events.js";

const typing = (n: number): LiveEvent => ({ kind: "typing", chatId: `c${n}`, userId: "u", cyphrId: "bob", typing: true });

describe("Live's emitter", () => {
  it("calls listeners of the event's kind in order until they are removed", async () => {
    const e = new Emitter(10);
    const seen: string[] = [];
    const off = e.on("typing", (t) => seen.push(t.chatId));
    e.on("receipt", () => seen.push("receipt"));
    await e.emit(typing(1));
    off();
    await e.emit(typing(2));
    expect(seen).toEqual(["c1"]);
  });

  it("reports a listener that throws as an error event and calls the others", async () => {
    const e = new Emitter(10);
    const errors: string[] = [];
    let after = 0;
    e.on("typing", () => {
      throw new Error("app bug");
    });
    e.on("typing", () => after++);
    e.on("error", (x) => errors.push(x.error.message));
    await e.emit(typing(1));
    expect([after, errors.length]).toEqual([1, 1]);
  });

  it("holds at most its buffer per iterator: emit waits until the reader takes one", async () => {
    const e = new Emitter(2);
    const it = e.iterate();
    await e.emit(typing(1));
    let third = false;
    const second = e.emit(typing(2)).then(() => (third = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false); // the queue is full
    expect((await it.next()).value).toMatchObject({ chatId: "c1" });
    await second;
    expect(third).toBe(true);
    e.close();
    expect((await it.next()).value).toMatchObject({ chatId: "c2" });
    expect((await it.next()).done).toBe(true);
  });

  it("an iterator that returns early stops receiving and never blocks emit", async () => {
    const e = new Emitter(1);
    const it = e.iterate();
    await it.return!();
    for (let i = 0; i < 5; i++) await e.emit(typing(i));
    expect((await it.next()).done).toBe(true);
  });

  it("stops waiting for a reader that stopped reading once unblocked (Live closing)", async () => {
    const e = new Emitter(1);
    const it = e.iterate();
    const blocked = e.emit(typing(1)).then(() => e.emit(typing(2)));
    let done = false;
    void blocked.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    e.unblock();
    await blocked;
    e.close();
    expect([(await it.next()).value, (await it.next()).value, (await it.next()).done]).toMatchObject([{ chatId: "c1" }, { chatId: "c2" }, true]);
  });
});
