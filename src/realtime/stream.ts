import type { Logger } from "pino";
import type { DatabasePool } from "slonik";
import { eventBounds, listEvents, storedAck } from "../events/log.js";
import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import type { Caller } from "../identity/tokens.js";
import { DeadlineExceededError, ResourceExhaustedError, UnavailableError } from "../shared/errors.js";
import { framesForEvents } from "./content.js";
import { ephemeralFrame, heartbeatFrame } from "./frames.js";
import type { Hub, Subscriber } from "./hub.js";

const PAGE = 500;

export interface StreamSettings {
  /** Frames a stream may fall behind before it is ended. */
  bufferFrames: number;
  heartbeatIntervalMs: number;
  /** End the stream when the client sent nothing for this long (bidi streams only). */
  clientIdleTimeoutMs: number | undefined;
}

export interface StreamDeps {
  pool: DatabasePool;
  hub: Hub;
  log: Logger;
  onOpen(userId: string): void;
  onClose(userId: string): void;
}

/**
 * One client's event stream. Durable events are delivered strictly in cursor order:
 * the stream registers for live events before it replays the backlog, holds live events
 * until the replay is done, drops anything at or below the last delivered cursor (the
 * seam's overlap), and fills any hole from the database. Per-user cursors are dense, so
 * a hole is always detectable.
 */
export class EventStream implements Subscriber {
  readonly userId: string;
  readonly sessionId: string;
  private readonly queue: ServerFrame[] = [];
  private readonly held = new Map<number, ServerFrame>();
  private delivered = 0;
  private replaying = true;
  private filling = false;
  private fillAgain = false;
  private ended: { error?: Error } | undefined;
  private wake: (() => void) | undefined;
  private spaceWaiter: (() => void) | undefined;
  private lastClientActivity = Date.now();
  private idleTimeoutMs: number | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly deps: StreamDeps,
    caller: Caller,
    private readonly settings: StreamSettings,
    signal: AbortSignal,
  ) {
    this.userId = caller.userId;
    this.sessionId = caller.sessionId;
    this.idleTimeoutMs = settings.clientIdleTimeoutMs;
    signal.addEventListener("abort", () => this.fail(new UnavailableError("stream closed by the server; reconnect and resume from your last cursor")), {
      once: true,
    });
  }

  /** Registers for live events, then replays everything after the resume cursor in the background. */
  open(resumeCursor: number | undefined): void {
    this.deps.hub.add(this);
    this.deps.onOpen(this.userId);
    this.timers.push(setInterval(() => this.heartbeat(), this.settings.heartbeatIntervalMs));
    this.replay(resumeCursor).catch((err: unknown) => this.failUnexpected(err));
  }

  /** The client sent a frame: it is alive. */
  touch(): void {
    this.lastClientActivity = Date.now();
  }

  deliverDurable(frame: ServerFrame): void {
    if (this.ended) return;
    const cursor = Number(frame.cursor);
    if (cursor <= this.delivered) return;
    if (this.replaying || cursor !== this.delivered + 1) {
      this.held.set(cursor, frame);
      if (this.held.size > this.settings.bufferFrames) this.fail(this.behind());
      if (!this.replaying) this.fill();
      return;
    }
    this.emitDurable(cursor, frame);
    this.drainHeld();
  }

  deliverEphemeral(frame: ServerFrame): void {
    this.push(frame);
  }

  /** A frame answering the client (send or receipt results). */
  reply(frame: ServerFrame): void {
    this.push(frame);
  }

  resync(): void {
    if (!this.replaying) this.fill();
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
    this.wake?.();
    this.spaceWaiter?.();
  }

  fail(error: Error): void {
    if (this.ended) return;
    this.ended = { error };
    this.wake?.();
    this.spaceWaiter?.();
  }

  async *frames(): AsyncGenerator<ServerFrame> {
    try {
      for (;;) {
        const frame = this.queue.shift();
        if (frame) {
          if (this.queue.length < this.settings.bufferFrames / 2) this.spaceWaiter?.();
          yield frame;
          continue;
        }
        if (this.ended) {
          if (this.ended.error) throw this.ended.error;
          return;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      this.close();
    }
  }

  private close(): void {
    if (!this.ended) this.ended = {};
    for (const timer of this.timers) clearInterval(timer);
    this.deps.hub.remove(this);
    this.deps.onClose(this.userId);
  }

  private async replay(resumeCursor: number | undefined): Promise<void> {
    const start = resumeCursor ?? (await storedAck(this.deps.pool, this.sessionId));
    const bounds = await eventBounds(this.deps.pool, this.userId);
    let resyncRequired = false;
    this.delivered = start;
    if (start > bounds.last) {
      // A cursor from the future (e.g. the server's database was restored): start over from now.
      resyncRequired = true;
      this.delivered = bounds.last;
    } else if (bounds.last > start && (bounds.oldest === null || bounds.oldest > start + 1)) {
      // Events after the cursor were pruned by retention.
      resyncRequired = true;
      this.delivered = (bounds.oldest ?? bounds.last + 1) - 1;
    }
    for (;;) {
      const page = await listEvents(this.deps.pool, this.userId, this.delivered, PAGE);
      for (const { cursor, frame } of await framesForEvents(this.deps.pool, page)) {
        if (this.ended) return;
        await this.space();
        this.emitDurable(cursor, frame);
      }
      if (page.length < PAGE) break;
    }
    this.push(ephemeralFrame({ case: "caughtUp", value: { cursor: BigInt(this.delivered), resyncRequired } }));
    this.replaying = false;
    this.drainHeld();
    if (this.held.size > 0) this.fill();
  }

  private emitDurable(cursor: number, frame: ServerFrame | null): void {
    this.delivered = cursor;
    if (frame && frame.event.case !== undefined) this.push(frame);
  }

  private drainHeld(): void {
    for (const cursor of this.held.keys()) if (cursor <= this.delivered) this.held.delete(cursor);
    for (let next = this.held.get(this.delivered + 1); next; next = this.held.get(this.delivered + 1)) {
      this.held.delete(this.delivered + 1);
      this.emitDurable(this.delivered + 1, next);
    }
  }

  /** Fetches from the database whatever lies between the last delivered cursor and the newest known one. */
  private fill(): void {
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    this.filling = true;
    void (async () => {
      try {
        do {
          this.fillAgain = false;
          for (;;) {
            const page = await listEvents(this.deps.pool, this.userId, this.delivered, PAGE);
            for (const { cursor, frame } of await framesForEvents(this.deps.pool, page)) {
              if (this.ended) return;
              if (cursor === this.delivered + 1) this.emitDurable(cursor, frame);
            }
            this.drainHeld();
            if (page.length < PAGE) break;
          }
          if (this.held.size > 0) {
            // Only pruning can leave a hole the database cannot fill: skip to what we hold.
            this.delivered = Math.min(...this.held.keys()) - 1;
            this.drainHeld();
          }
        } while (this.fillAgain && !this.ended);
      } catch (err) {
        this.failUnexpected(err);
      } finally {
        this.filling = false;
      }
    })();
  }

  private push(frame: ServerFrame): void {
    if (this.ended) return;
    this.queue.push(frame);
    if (this.queue.length > this.settings.bufferFrames) {
      this.fail(this.behind());
      return;
    }
    this.wake?.();
  }

  private behind(): Error {
    return new ResourceExhaustedError(
      `stream fell more than ${this.settings.bufferFrames} frames behind; reconnect and resume from your last processed cursor`,
    );
  }

  /** Replay waits for the client to read instead of overflowing the buffer. */
  private async space(): Promise<void> {
    while (!this.ended && this.queue.length >= this.settings.bufferFrames / 2) {
      await new Promise<void>((resolve) => (this.spaceWaiter = resolve));
      this.spaceWaiter = undefined;
    }
  }

  private heartbeat(): void {
    const idle = this.idleTimeoutMs;
    if (idle !== undefined && Date.now() - this.lastClientActivity > idle) {
      this.fail(new DeadlineExceededError(`no frame from the client for ${idle} ms; the stream was ended`));
      return;
    }
    this.push(heartbeatFrame());
  }

  private failUnexpected(err: unknown): void {
    this.deps.log.error({ err: { message: (err as Error).message } }, "event stream failed");
    this.fail(new UnavailableError("event stream failed; reconnect and resume from your last processed cursor"));
  }
}
