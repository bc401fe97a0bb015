import { afterEach, describe, expect, it, vi } from "vitest";
import { Heartbeats } from "./heartbeats.js";

const INTERVAL = 1_600;

function beater() {
  const beats: number[] = [];
  return { beats, stream: { beat: () => beats.push(Date.now()) } };
}

describe("Heartbeats", () => {
  afterEach(() => vi.useRealTimers());

  it("beats every stream once per interval, the first beat within one interval of joining", () => {
    vi.useFakeTimers({ now: 0 });
    const hb = new Heartbeats(INTERVAL);
    const a = beater();
    hb.add(a.stream);
    vi.advanceTimersByTime(INTERVAL / 2);
    const b = beater();
    hb.add(b.stream);
    vi.advanceTimersByTime(INTERVAL * 3);
    for (const { beats } of [a, b]) {
      expect(beats).toHaveLength(3);
      expect(beats[1]! - beats[0]!).toBe(INTERVAL);
      expect(beats[2]! - beats[1]!).toBe(INTERVAL);
    }
    expect(a.beats[0]).toBeGreaterThan(INTERVAL - INTERVAL / 16 - 1);
    expect(a.beats[0]).toBeLessThanOrEqual(INTERVAL);
    expect(b.beats[0]! - INTERVAL / 2).toBeGreaterThan(INTERVAL - INTERVAL / 16 - 1);
    expect(b.beats[0]! - INTERVAL / 2).toBeLessThanOrEqual(INTERVAL);
  });

  it("spreads streams that join at different moments over the interval instead of beating them all at once", () => {
    vi.useFakeTimers({ now: 0 });
    const hb = new Heartbeats(INTERVAL);
    const streams = Array.from({ length: 16 }, () => beater());
    for (const s of streams) {
      hb.add(s.stream);
      vi.advanceTimersByTime(INTERVAL / 16);
    }
    vi.advanceTimersByTime(INTERVAL);
    expect(new Set(streams.map((s) => s.beats[0])).size).toBe(16);
  });

  it("a removed stream beats no more, a stream ended by its own beat is dropped, and the timer stops with the last stream", () => {
    vi.useFakeTimers({ now: 0 });
    const hb = new Heartbeats(INTERVAL);
    const gone = beater();
    const ending = { beats: 0, beat: () => (ending.beats++, hb.remove(ending)) };
    hb.add(gone.stream);
    hb.add(ending);
    hb.add(ending);
    expect(hb.size).toBe(2);
    hb.remove(gone.stream);
    vi.advanceTimersByTime(INTERVAL * 3);
    expect(gone.beats).toHaveLength(0);
    expect(ending.beats).toBe(1);
    expect(hb.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
