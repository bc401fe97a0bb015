import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ServerFrameSchema } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { StreamBuffer } from "./stream-buffer.js";

const budget = { bufferFrames: 64, bufferBytes: 1 << 20 };
const frame = create(ServerFrameSchema, { event: { case: "heartbeat", value: {} } });

describe("StreamBuffer", () => {
  it("hands frames out in order and counts their bytes back to zero", () => {
    const buffer = new StreamBuffer(budget, undefined);
    const frames = [1n, 2n, 3n].map((cursor) => create(ServerFrameSchema, { cursor, event: { case: "heartbeat", value: {} } }));
    for (const f of frames) expect(buffer.push(f)).toBeUndefined();
    expect(buffer.length).toBe(3);
    expect([buffer.shift(), buffer.shift(), buffer.shift(), buffer.shift()]).toEqual([...frames, undefined]);
    expect(buffer.isHalfFull()).toBe(false);
  });

  it("says which budget a push went past", () => {
    const buffer = new StreamBuffer({ bufferFrames: 2, bufferBytes: 1 << 20 }, undefined);
    buffer.push(frame);
    buffer.push(frame);
    expect(buffer.push(frame)).toBe("2 frames");
    expect(new StreamBuffer({ bufferFrames: 64, bufferBytes: 100 }, () => 1_000).push(frame)).toBe("100 bytes");
  });

  it("an idle stream's buffer that once held a burst keeps none of the burst's array capacity", () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const count = 20_000;
    const heapPerBuffer = (burst: number) => {
      const held: StreamBuffer[] = [];
      gc();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < count; i++) {
        const buffer = new StreamBuffer(budget, undefined);
        for (let k = 0; k < burst; k++) buffer.push(frame);
        while (buffer.shift());
        held.push(buffer);
      }
      gc();
      const bytes = (process.memoryUsage().heapUsed - before) / count;
      expect(held).toHaveLength(count);
      return bytes;
    };
    const never = heapPerBuffer(0);
    // A burst of 20 grows each array to a backing store of ~30 slots (~0.25 KB each) unless it is given back.
    expect(heapPerBuffer(20) - never).toBeLessThan(64);
  });
});
