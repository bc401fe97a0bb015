import { describe, expect, it } from "vitest";
import { type BudgetRefusal, RequestBudget } from "./request-budget.js";

const budget = () => new RequestBudget({ perConnectionBytes: 100, totalBytes: 250 });

describe("RequestBudget", () => {
  it("refuses a chunk that would take its connection past its share, charging nothing", () => {
    const b = budget();
    const conn = {};
    const first = b.open(conn, () => undefined);
    const second = b.open(conn, () => undefined);
    expect(first.take(60)).toBeUndefined();
    expect(second.take(41)).toEqual({ limit: "connection", limitBytes: 100, evicted: false });
    expect(second.take(40)).toBeUndefined();
    expect(b.usedBy(conn)).toBe(100);
    first.release();
    second.release();
    expect(b.usedBytes).toBe(0);
  });

  it("makes room in the process by dropping the largest body still read on the connection holding the most", () => {
    const b = budget();
    const evicted: BudgetRefusal[] = [];
    const greedy = {};
    const big = b.open(greedy, (r) => evicted.push(r));
    const small = b.open(greedy, () => evicted.push({ limit: "connection", limitBytes: 0, evicted: false }));
    big.take(70);
    small.take(30);
    const other = b.open({}, () => undefined);
    other.take(100);
    const third = b.open({}, () => undefined);
    third.take(50);
    // 250 used; a newcomer needs 10.
    const newcomer = b.open({}, () => undefined);
    expect(newcomer.take(10)).toBeUndefined();
    // greedy and other both hold 100; the first found (greedy) yields its largest body.
    expect(evicted).toEqual([{ limit: "process", limitBytes: 250, evicted: true }]);
    expect(big.held).toBe(0);
    expect(b.usedBytes).toBe(190);
    expect(big.take(5)).toBeUndefined(); // a released charge takes nothing any more
    expect(b.usedBytes).toBe(190);
  });

  it("never takes back a body read in full, nor one from a connection holding no more than the asker", () => {
    const b = budget();
    const a = b.open({}, () => undefined);
    a.take(100);
    a.finishReading();
    const c = b.open({}, () => undefined);
    c.take(100);
    const asker = {};
    const d = b.open(asker, () => undefined);
    d.take(50);
    // c's connection holds 100, the asker would hold 100 too: no one yields.
    expect(d.take(50)).toEqual({ limit: "process", limitBytes: 250, evicted: false });
    expect(b.usedBytes).toBe(250);
  });

  it("gives back what a stream handed on, and everything once released, whichever path ends it", () => {
    const b = budget();
    const conn = {};
    const charge = b.open(conn, () => undefined);
    charge.take(80);
    charge.settle(30);
    expect(b.usedBy(conn)).toBe(30);
    charge.release();
    charge.release();
    expect(b.usedBytes).toBe(0);
    expect(b.largestShareBytes).toBe(0);
  });
});
