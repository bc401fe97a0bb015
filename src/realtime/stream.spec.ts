import { getEventListeners } from "node:events";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pino } from "pino";
import type { DatabasePool } from "slonik";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ResourceExhaustedError } from "../shared/errors.js";
import { Semaphore } from "../shared/semaphore.js";
import { Heartbeats } from "./heartbeats.js";
import type { Hub } from "./hub.js";
import type { ReplayStarts } from "./replay-starts.js";
import { EventStream, type StreamSettings } from "./stream.js";

const settings: StreamSettings = { bufferFrames: 8, bufferBytes: 1 << 20, clientIdleTimeoutMs: undefined, drainGraceMs: 5_000 };
const caller = { userId: "u", sessionId: "s", cyphrId: "user_u" } as never;

/** A stream that is never opened: no hub, no database. */
function stream(resetTransport: (reason: Error) => void, signal: AbortSignal, grace = settings.drainGraceMs) {
  const deps = {
    pool: undefined as unknown as DatabasePool,
    hub: undefined as unknown as Hub,
    log: pino({ level: "silent" }),
    onOpen: () => undefined,
    onClose: () => undefined,
    replaySlots: new Semaphore(1),
    replayStarts: undefined as unknown as ReplayStarts,
    heartbeats: new Heartbeats(60_000),
  };
  return new EventStream(deps, { signal, resetTransport }, caller, { ...settings, drainGraceMs: grace });
}

describe("EventStream drain grace", () => {
  afterEach(() => vi.useRealTimers());

  it("resets the transport of a failed stream whose call is still open after the grace", () => {
    vi.useFakeTimers();
    const reset = vi.fn();
    stream(reset, new AbortController().signal).fail(new ResourceExhaustedError("behind"));
    vi.advanceTimersByTime(settings.drainGraceMs - 1);
    expect(reset).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(reset).toHaveBeenCalledTimes(1);
  });

  it("does not reset the transport once the failed stream's call has ended", () => {
    vi.useFakeTimers();
    const reset = vi.fn();
    const call = new AbortController();
    stream(reset, call.signal).fail(new ResourceExhaustedError("behind"));
    call.abort();
    vi.advanceTimersByTime(settings.drainGraceMs * 2);
    expect(reset).not.toHaveBeenCalled();
  });

  it("does not keep a stream that ended on shutdown alive while its grace runs", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const reset = vi.fn();
    const ref = (() => {
      const shutdown = new AbortController();
      // Shutdown aborts the call first: the stream fails and its grace starts (one minute here).
      const ended = stream(reset, shutdown.signal, 60_000);
      shutdown.abort();
      return new WeakRef(ended);
    })();
    for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    expect(ref.deref()).toBeUndefined();
    expect(reset).not.toHaveBeenCalled();
  });
});

describe("EventStream on a signal shared by every call (the HTTP/2 fast path's shutdown signal)", () => {
  afterEach(() => vi.useRealTimers());

  it("stops listening to the shared signal once its call ended, so ended streams do not pile up on it", () => {
    const shutdown = new AbortController();
    const streams = [0, 1, 2].map(() => stream(vi.fn(), shutdown.signal));
    expect(getEventListeners(shutdown.signal, "abort")).toHaveLength(3);
    for (const s of streams) s.callEnded();
    expect(getEventListeners(shutdown.signal, "abort")).toHaveLength(0);
  });

  it("a failed stream whose call ended without the signal aborting is not reset after the grace", () => {
    vi.useFakeTimers();
    const reset = vi.fn();
    const failed = stream(reset, new AbortController().signal);
    failed.fail(new ResourceExhaustedError("behind"));
    failed.callEnded();
    vi.advanceTimersByTime(settings.drainGraceMs * 2);
    expect(reset).not.toHaveBeenCalled();
  });
});
