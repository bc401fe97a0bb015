import type http from "node:http";
import http2 from "node:http2";
import { resetHttp2Stream } from "./reset-stream.js";

type Response = http.ServerResponse | http2.Http2ServerResponse;

interface Watched {
  /** Bytes written that the client has not taken. */
  pending(): number;
  reset(): void;
  /** When the buffered bytes were last seen to shrink (or to appear), if some are buffered. */
  stalledSince: number | undefined;
  /** The fewest buffered bytes seen since then. */
  low: number;
  drained: boolean;
}

const STALLED = Symbol("cyphr.write-stalled");

/** Whether the watchdog reset this response because its client stopped reading. */
export function wasResetForStall(res: Response): boolean {
  return (res as { [STALLED]?: boolean })[STALLED] === true;
}

/**
 * Resets every response whose buffered bytes make no progress for `stallTimeoutMs`: a client
 * that never opens its HTTP/2 flow-control window (or stops reading an HTTP/1.1 socket) would
 * otherwise pin the whole answer in memory for as long as it keeps the connection. Unary
 * answers and streams alike; the reset (RST_STREAM ENHANCE_YOUR_CALM, which clients report as
 * RESOURCE_EXHAUSTED, or closing the HTTP/1.1 connection) fails the pending writes, so the
 * handler ends and its buffers are released. One timer checks all responses.
 */
export class WriteWatchdog {
  private readonly watched = new Set<Watched>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly stallTimeoutMs: number) {
    this.timer = setInterval(() => this.check(), Math.max(50, Math.min(1000, Math.floor(stallTimeoutMs / 4))));
    this.timer.unref();
  }

  watch(res: Response): void {
    this.track(res, { pending: () => pendingBytes(res), reset: () => reset(res), stalledSince: undefined, low: 0, drained: false });
  }

  /** The same watch for a stream served on the core HTTP/2 API (no compatibility response object). */
  watchStream(stream: http2.ServerHttp2Stream): void {
    this.track(stream, {
      pending: () => streamPendingBytes(stream),
      reset: () => resetHttp2Stream(stream, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, "response not read in time"),
      stalledSince: undefined,
      low: 0,
      drained: false,
    });
  }

  private track(emitter: Response | http2.ServerHttp2Stream, entry: Watched): void {
    this.watched.add(entry);
    const onDrain = () => (entry.drained = true);
    emitter.on("drain", onDrain);
    emitter.once("close", () => {
      emitter.off("drain", onDrain);
      this.watched.delete(entry);
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const now = Date.now();
    for (const entry of this.watched) {
      const pending = entry.pending();
      const progressed = entry.drained || pending < entry.low;
      entry.drained = false;
      if (pending === 0) {
        entry.stalledSince = undefined;
      } else if (entry.stalledSince === undefined || progressed) {
        entry.stalledSince = now;
        entry.low = pending;
      } else if (now - entry.stalledSince >= this.stallTimeoutMs) {
        this.watched.delete(entry);
        entry.reset();
      }
    }
  }
}

/** Bytes written by the handler that the client has not taken yet (those still in the kernel excepted). */
function pendingBytes(res: Response): number {
  if ("stream" in res) return streamPendingBytes(res.stream);
  return res.writableLength + (res.socket?.writableLength ?? 0);
}

function streamPendingBytes(stream: http2.Http2Stream): number {
  if (stream.destroyed) return 0;
  return (stream.bufferSize ?? 0) + stream.writableLength;
}

function reset(res: Response): void {
  (res as { [STALLED]?: boolean })[STALLED] = true;
  if ("stream" in res) return resetHttp2Stream(res.stream, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, "response not read in time");
  res.socket?.destroy();
  res.destroy();
}
