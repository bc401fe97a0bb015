import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { estimatedFrameBytes } from "./frame-size.js";

/** How often a read waiting on a full transport (nothing queued here) looks again. */
const TRANSPORT_POLL_MS = 50;

/** How far a stream may fall behind its client. */
export interface BufferBudget {
  bufferFrames: number;
  /** Queued here plus held by the transport. */
  bufferBytes: number;
}

/**
 * The frames one stream holds for its client, measured against its budgets: in frames, and
 * in bytes (each frame estimated as it is queued, plus what the transport still holds). Also
 * the wait that paces database reads: a read goes on only below half of both budgets.
 */
export class StreamBuffer {
  private readonly frames: ServerFrame[] = [];
  private readonly sizes: number[] = [];
  private bytes = 0;
  private spaceWaiter: (() => void) | undefined;

  constructor(
    private readonly budget: BufferBudget,
    /** Bytes written to the transport that the client has not taken yet. */
    private readonly transportBacklog: (() => number) | undefined,
  ) {}

  get length(): number {
    return this.frames.length;
  }

  /** Queues a frame; says how far behind the stream fell when that is past a budget. */
  push(frame: ServerFrame): string | undefined {
    const size = estimatedFrameBytes(frame);
    this.frames.push(frame);
    this.sizes.push(size);
    this.bytes += size;
    const { bufferFrames, bufferBytes } = this.budget;
    if (this.frames.length > bufferFrames) return `${bufferFrames} frames`;
    if (this.backlogBytes() > bufferBytes) return `${bufferBytes} bytes`;
    return undefined;
  }

  /** Takes the oldest frame. */
  shift(): ServerFrame | undefined {
    const frame = this.frames.shift();
    if (frame) this.bytes -= this.sizes.shift() ?? 0;
    // Emptied: `length = 0` gives the arrays' backing stores back (shift() keeps their capacity:
    // ~0.3 KB per idle stream that once held a replay or a burst).
    if (this.frames.length === 0) this.clear();
    return frame;
  }

  clear(): void {
    this.frames.length = 0;
    this.sizes.length = 0;
    this.bytes = 0;
  }

  /** Half the frame or byte budget is used: reading the database waits. */
  isHalfFull(): boolean {
    return this.frames.length >= this.budget.bufferFrames / 2 || this.backlogBytes() >= this.budget.bufferBytes / 2;
  }

  /** Lets a waiting read look again (the client took frames, or the stream ended). */
  releaseSpace(): void {
    this.spaceWaiter?.();
  }

  /**
   * Waits until the buffer is under half its budgets, or `stopped()`. A database read's
   * frames are pushed only then, so a replay never overflows the buffer (config keeps every
   * frame under half the byte budget).
   */
  async waitForSpace(stopped: () => boolean): Promise<void> {
    while (!stopped() && this.isHalfFull()) {
      // Nothing queued here: only the transport is full, and it says nothing when it drains.
      const poll = this.frames.length === 0 ? setTimeout(() => this.spaceWaiter?.(), TRANSPORT_POLL_MS) : undefined;
      await new Promise<void>((resolve) => (this.spaceWaiter = resolve));
      clearTimeout(poll);
      this.spaceWaiter = undefined;
    }
  }

  private backlogBytes(): number {
    return this.bytes + (this.transportBacklog?.() ?? 0);
  }
}
