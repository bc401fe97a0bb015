import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Caller } from "../identity/tokens.js";
import { DeadlineExceededError, ResourceExhaustedError, UnavailableError } from "../shared/errors.js";
import type { Semaphore } from "../shared/semaphore.js";
import { DurableFeed, type FeedDeps, type FeedTarget } from "./durable-feed.js";
import { heartbeatFrame } from "./frames.js";
import type { Beating, Heartbeats } from "./heartbeats.js";
import type { Hub, Subscriber } from "./hub.js";
import type { ReplayStarts } from "./replay-starts.js";
import { type BufferBudget, StreamBuffer } from "./stream-buffer.js";

/** Budgets: past either, the stream is ended (src/realtime/stream-buffer.ts). */
export interface StreamSettings extends BufferBudget {
  /** End the stream when the client sent nothing for this long (bidi streams only). */
  clientIdleTimeoutMs: number | undefined;
  /** After the stream failed, how long the client has to take its last frames before the transport is reset. */
  drainGraceMs: number;
}

/** What every stream of the instance shares (one object, made once: src/realtime/stream-open.ts). */
export interface StreamDeps extends FeedDeps {
  pool: DatabasePool;
  hub: Hub;
  log: Logger;
  onOpen(userId: string): void;
  onClose(userId: string): void;
  /** Ephemeral frames a client needs once caught up (who of its peers is online now). */
  snapshot?(userId: string): Promise<ServerFrame[]>;
  /** Shared by every stream of the instance: bounds how much of the database pool replays may hold. */
  replaySlots: Semaphore;
  /** Reads the resume point and first page of streams opening together in one statement. */
  replayStarts: ReplayStarts;
  /** Writes the session's pending ack now (src/realtime/acks.ts). */
  flushAck?(sessionId: string): Promise<void>;
  /** The one timer that beats every stream of the context (src/realtime/heartbeats.ts). */
  heartbeats: Heartbeats;
}

/** What the stream needs from the call that carries it. */
export interface StreamTransport {
  /**
   * Aborts when the call ends or the server shuts down; heard until callEnded(). The HTTP/2
   * fast path passes the server's shutdown signal, shared by every call, and calls callEnded()
   * when its stream closes (an AbortSignal of each call's own costs ~0.8 KB of heap).
   */
  signal: AbortSignal;
  /** Cuts the call off at the transport (a client that stopped reading never sees the final status otherwise). */
  resetTransport?(reason: Error): void;
  /** Bytes written to the transport that the client has not taken yet. */
  transportBacklog?(): number;
}

/** Where an attached stream's frames go (push mode). */
export interface FrameSink {
  /** Takes one frame; false when the transport is full (the stream then waits for resume()). */
  write(frame: ServerFrame): boolean;
  /** The stream ended: normally (no error) or with its status. */
  end(error: Error | undefined): void;
}

/**
 * One client's event stream: its live registration, its buffer and budgets, heartbeats, and
 * how its frames leave (pushed to a sink, or pulled through frames()). Durable events are
 * delivered strictly in cursor order, each once, by its DurableFeed (src/realtime/durable-feed.ts):
 * the replay, live delivery and hole filling.
 */
export class EventStream implements Subscriber, FeedTarget, Beating {
  readonly userId: string;
  readonly sessionId: string;
  readonly deviceId: number;
  private readonly buffer: StreamBuffer;
  private readonly feed: DurableFeed;
  private ended: { error?: Error } | undefined;
  private opened = false;
  private detached = false;
  private wake: (() => void) | undefined;
  /** Push mode (attach): where frames go, and whether it asked to wait for its transport to drain. */
  private sink: FrameSink | undefined;
  private sinkFull = false;
  private sinkEnded = false;
  private lastClientActivity = Date.now();
  private idleTimeoutMs: number | undefined;
  /** After a failure: resets the transport unless the call ends first (see fail()). */
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.callEnded();

  constructor(
    private readonly deps: StreamDeps,
    private readonly transport: StreamTransport,
    caller: Caller,
    private readonly settings: StreamSettings,
  ) {
    this.userId = caller.userId;
    this.sessionId = caller.sessionId;
    this.deviceId = caller.deviceId;
    this.idleTimeoutMs = settings.clientIdleTimeoutMs;
    this.buffer = new StreamBuffer(settings, transport.transportBacklog);
    this.feed = new DurableFeed(deps, this);
    if (transport.signal.aborted) this.callEnded();
    else transport.signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /**
   * The call ended (or the server is shutting down): the stream ends; a failed stream's
   * transport needs no reset any more once its call is over.
   */
  callEnded(): void {
    this.transport.signal.removeEventListener("abort", this.onAbort);
    if (this.ended) clearTimeout(this.drainTimer);
    else this.fail(new UnavailableError("stream closed by the server; reconnect and resume from your last cursor"));
  }

  /** Registers for live events, then replays everything after the resume cursor in the background. */
  open(resumeCursor: bigint | undefined): void {
    if (this.ended) return;
    this.opened = true;
    this.deps.hub.add(this);
    this.deps.onOpen(this.userId);
    this.deps.heartbeats.add(this);
    this.replay(resumeCursor).catch((err: unknown) => this.failUnexpected(err));
  }

  /** The client sent a frame: it is alive. */
  touch(): void {
    this.lastClientActivity = Date.now();
  }

  deliverDurable(frame: ServerFrame): void {
    if (!this.ended) this.feed.live(frame);
  }

  deliverEphemeral(frame: ServerFrame): void {
    this.queueFrame(frame);
  }

  /** A frame answering the client (send or receipt results). */
  reply(frame: ServerFrame): void {
    this.queueFrame(frame);
  }

  resync(): void {
    this.feed.resync();
  }

  /**
   * The client closed its sending side (as grpcurl does after the hello): keep streaming
   * events, and stop expecting heartbeats from it; a vanished client is still noticed by
   * the transport.
   */
  clientDone(): void {
    this.idleTimeoutMs = undefined;
  }

  /** Ends the stream normally. */
  end(): void {
    if (this.ended) return;
    this.ended = {};
    this.feed.stop();
    this.wake?.();
    this.buffer.releaseSpace();
  }

  /**
   * Ends the stream with an error. The stream leaves the hub at once (a client that stopped
   * reading may never take its last frames); if the client has not taken them within the
   * drain grace, the transport is reset.
   */
  fail(error: Error): void {
    if (this.ended) return;
    this.ended = { error };
    this.feed.stop();
    if (error instanceof ResourceExhaustedError) this.buffer.clear();
    this.detach();
    // The timer holds the reset and its reason only, not this stream, so an ended stream and
    // its buffers are not kept alive for the grace. (An error whose stack was never read keeps
    // its call frames, receivers included, and so this stream: reading it drops them.)
    const reset = this.transport.resetTransport;
    if (reset) {
      void error.stack;
      this.drainTimer = setTimeout(() => reset(error), this.settings.drainGraceMs).unref();
    }
    this.wake?.();
    this.buffer.releaseSpace();
  }

  /**
   * Push mode, instead of frames(): each frame goes to `sink.write` as soon as it is queued,
   * in order, while the sink accepts them (write returns false when its transport's buffer is
   * full: call resume() once it drained); `sink.end` hears how the stream ended, once, after
   * its last frame. No generator or promise waits per stream, which is most of what an idle
   * stream costs in pull mode.
   */
  attach(sink: FrameSink): void {
    this.sink = sink;
    this.wake = () => this.flushToSink();
    this.flushToSink();
  }

  /** The sink's transport drained: write the frames that waited. */
  resume(): void {
    this.sinkFull = false;
    this.flushToSink();
  }

  private flushToSink(): void {
    const sink = this.sink;
    if (!sink || this.sinkEnded) return;
    while (!this.sinkFull) {
      const frame = this.buffer.shift();
      if (!frame) break;
      if (!sink.write(frame)) this.sinkFull = true;
    }
    if (!this.buffer.isHalfFull()) this.buffer.releaseSpace();
    if (this.buffer.length > 0 || !this.ended) return;
    this.sinkEnded = true;
    this.feed.stop();
    this.detach();
    sink.end(this.ended.error);
  }

  async *frames(): AsyncGenerator<ServerFrame> {
    try {
      for (;;) {
        const frame = this.buffer.shift();
        if (frame) {
          if (!this.buffer.isHalfFull()) this.buffer.releaseSpace();
          yield frame;
          continue;
        }
        if (this.ended) {
          if (this.ended.error) throw this.ended.error;
          return;
        }
        this.buffer.releaseSpace();
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      if (!this.ended) this.ended = {};
      this.feed.stop();
      this.buffer.clear();
      this.detach();
    }
  }

  /** Stops the heartbeat and leaves the hub (once). */
  private detach(): void {
    if (this.detached || !this.opened) return;
    this.detached = true;
    this.deps.heartbeats.remove(this);
    this.deps.hub.remove(this);
    this.deps.onClose(this.userId);
    void this.deps.flushAck?.(this.sessionId);
  }

  /** Replays the backlog and goes live, then sends what a caught-up client needs (presence). */
  private async replay(resumeCursor: bigint | undefined): Promise<void> {
    await this.feed.replay(resumeCursor);
    if (this.ended) return;
    for (const frame of (await this.deps.snapshot?.(this.userId)) ?? []) this.deliverEphemeral(frame);
  }

  /** Queues a frame for the client: the feed's durable frames, ephemeral frames, replies, heartbeats. */
  queueFrame(frame: ServerFrame): void {
    if (this.ended) return;
    const behind = this.buffer.push(frame);
    if (behind) {
      this.fail(new ResourceExhaustedError(`stream fell more than ${behind} behind; reconnect and resume from your last processed cursor`));
      return;
    }
    this.wake?.();
  }

  /** Once per heartbeat interval (src/realtime/heartbeats.ts): a heartbeat, or the end of a client silent too long. */
  beat(): void {
    const idle = this.idleTimeoutMs;
    if (idle !== undefined && Date.now() - this.lastClientActivity > idle) {
      this.fail(new DeadlineExceededError(`no frame from the client for ${idle} ms; the stream was ended`));
      return;
    }
    this.queueFrame(heartbeatFrame());
  }

  /** Resolves once the buffer is under half its budgets, or the stream ended. */
  bufferSpace(): Promise<void> {
    return this.buffer.waitForSpace(() => this.ended !== undefined);
  }

  failUnexpected(err: unknown): void {
    this.deps.log.error({ err: { message: (err as Error).message } }, "event stream failed");
    this.fail(new UnavailableError("event stream failed; reconnect and resume from your last processed cursor"));
  }
}
