import type http from "node:http";
import http2 from "node:http2";
import { resetHttp2Stream } from "./reset-stream.js";

type Response = http.ServerResponse | http2.Http2ServerResponse;

type Watchable = Response | http2.ServerHttp2Stream;

/** One watched response or stream (no closures of its own: thousands of idle streams are normal). */
interface Watched {
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
  private readonly watched = new Map<Watchable, Watched>();
  private readonly timer: NodeJS.Timeout;
  /** Shared by every watched emitter ("drain" and "close" call them with the emitter as `this`). */
  private readonly onDrain: (this: Watchable) => void;
  private readonly onClose: (this: Watchable) => void;

  constructor(private readonly stallTimeoutMs: number) {
    this.timer = setInterval(() => this.check(), Math.max(50, Math.min(1000, Math.floor(stallTimeoutMs / 4))));
    this.timer.unref();
    const watched = this.watched;
    this.onDrain = function (this: Watchable) {
      const entry = watched.get(this);
      if (entry) entry.drained = true;
    };
    const onDrain = this.onDrain;
    this.onClose = function (this: Watchable) {
      this.off("drain", onDrain);
      watched.delete(this);
    };
  }

  watch(res: Response): void {
    this.track(res);
  }

  /** The same watch for a stream served on the core HTTP/2 API (no compatibility response object). */
  watchStream(stream: http2.ServerHttp2Stream): void {
    this.track(stream);
  }

  private track(emitter: Watchable): void {
    this.watched.set(emitter, { stalledSince: undefined, low: 0, drained: false });
    emitter.on("drain", this.onDrain);
    // "close" comes once: `on` spares the wrapper `once` makes for each response.
    emitter.on("close", this.onClose);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const now = Date.now();
    for (const [emitter, entry] of this.watched) {
      const pending = pendingBytes(emitter);
      const progressed = entry.drained || pending < entry.low;
      entry.drained = false;
      if (pending === 0) {
        entry.stalledSince = undefined;
      } else if (entry.stalledSince === undefined || progressed) {
        entry.stalledSince = now;
        entry.low = pending;
      } else if (now - entry.stalledSince >= this.stallTimeoutMs) {
        this.watched.delete(emitter);
        reset(emitter);
      }
    }
  }
}

/** Bytes written by the handler that the client has not taken yet (those still in the kernel excepted). */
function pendingBytes(emitter: Watchable): number {
  if (isCoreStream(emitter)) return streamPendingBytes(emitter);
  if ("stream" in emitter) return streamPendingBytes(emitter.stream);
  return emitter.writableLength + (emitter.socket?.writableLength ?? 0);
}

/** A stream of the core HTTP/2 API (only it answers with respond()), not a response object. */
function isCoreStream(emitter: Watchable): emitter is http2.ServerHttp2Stream {
  return "respond" in emitter;
}

function streamPendingBytes(stream: http2.Http2Stream): number {
  if (stream.destroyed) return 0;
  return (stream.bufferSize ?? 0) + stream.writableLength;
}

function reset(emitter: Watchable): void {
  if (isCoreStream(emitter)) return resetHttp2Stream(emitter, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, "response not read in time");
  const res = emitter;
  (res as { [STALLED]?: boolean })[STALLED] = true;
  if ("stream" in res) return resetHttp2Stream(res.stream, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, "response not read in time");
  res.socket?.destroy();
  res.destroy();
}
