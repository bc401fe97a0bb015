import { describe, expect, it } from "vitest";
import { Semaphore } from "./semaphore.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("Semaphore", () => {
  it("runs at most `limit` tasks at once, the rest in arrival order", async () => {
    const slots = new Semaphore(2);
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((gate, i) =>
      slots.run(async () => {
        started.push(i);
        await gate.promise;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect([slots.running, slots.queued]).toEqual([2, 2]);
    gates[1]!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve();
    gates[2]!.resolve();
    gates[3]!.resolve();
    await Promise.all(runs);
    expect(started).toEqual([0, 1, 2, 3]);
    expect([slots.running, slots.queued]).toEqual([0, 0]);
  });

  it("a waiter whose signal aborts leaves the queue and never runs its task", async () => {
    const slots = new Semaphore(1);
    const gate = deferred();
    const first = slots.run(() => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const second = slots.run(async () => {
      ran = true;
    }, controller.signal);
    await tick();
    expect(slots.queued).toBe(1);
    controller.abort(new Error("stream gone"));
    await expect(second).rejects.toThrow("stream gone");
    expect(slots.queued).toBe(0);
    gate.resolve();
    await first;
    expect(ran).toBe(false);
    expect(slots.running).toBe(0);
  });

  it("an already aborted signal is refused without taking a slot; a failing task frees its slot", async () => {
    const slots = new Semaphore(1);
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    await expect(slots.run(async () => 1, controller.signal)).rejects.toThrow("gone");
    await expect(slots.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await slots.run(async () => 42)).toBe(42);
    expect(slots.running).toBe(0);
  });
});
