import { describe, expect, it } from "vitest";
import { findFailures, type BenchResults } from "../src/bench/report.js";
import { DeliveryTracker } from "../src/bench/tracker.js";

/** The benchmark's correctness check: lost or duplicated messages must fail the run. */

describe("DeliveryTracker", () => {
  it("counts an accepted message that never arrived as lost, and a second arrival on a stream as a duplicate", () => {
    const tracker = new DeliveryTracker();
    for (const id of ["a", "b", "c"]) {
      tracker.onSent(id);
      tracker.onAccepted(id);
    }
    expect(tracker.onReceived("a")).toBe(true);
    expect(tracker.onReceived("b")).toBe(true);
    expect(tracker.onReceived("b")).toBe(false);
    expect(tracker.onReceived("not-ours")).toBe(false);
    expect(tracker.summary()).toMatchObject({ sent: 3, accepted: 3, delivered: 2, lost: 1, duplicated: 1 });
  });

  it("counts a message delivered although its send failed as delivered-unacknowledged, not lost", () => {
    const tracker = new DeliveryTracker();
    tracker.onSent("x");
    tracker.onError("UNAVAILABLE", "connection reset");
    tracker.onReceived("x");
    expect(tracker.summary()).toMatchObject({ lost: 0, deliveredUnacknowledged: 1, errors: 1, errorKinds: { UNAVAILABLE: 1 } });
  });
});

describe("findFailures", () => {
  const delivery = (lost: number, duplicated: number) => ({ ...new DeliveryTracker().summary(), lost, duplicated });
  const results = (lost: number, duplicated: number) =>
    ({
      throughput: [{ mode: "frames", delivery: delivery(lost, duplicated), streamErrors: [] }],
      latency: [],
      streams: undefined,
      errors: [],
    }) as unknown as BenchResults;

  it("reports nothing for a clean run", () => {
    expect(findFailures(results(0, 0))).toEqual([]);
  });

  it("names lost and duplicated messages (main.ts exits 1 on any failure)", () => {
    expect(findFailures(results(2, 0))).toEqual(["throughput/frames: 2 accepted messages never arrived"]);
    expect(findFailures(results(0, 3))).toEqual(["throughput/frames: 3 messages arrived more than once on one stream"]);
  });
});
