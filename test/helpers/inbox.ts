import { Code } from "@connectrpc/connect";
import type { ServerFrame } from "../../src/gen/cyphr/realtime/v1/realtime_pb.js";

export type EventCase = NonNullable<ServerFrame["event"]["case"]>;
export type EventValue<C extends EventCase> = Extract<ServerFrame["event"], { case: C }>["value"];

/** How a stream ended: its gRPC status. */
export interface StreamStatus {
  code: Code;
  message: string;
}

/** "OK", "RESOURCE_EXHAUSTED", … as a readable name for assertions. */
export function codeName(code: Code | number): string {
  if (code === 0) return "OK";
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** One line per frame, for failure messages. */
export function describeFrame(frame: ServerFrame): string {
  const value = frame.event.value as { type?: number; seq?: bigint; typing?: boolean; online?: boolean } | undefined;
  const detail = value?.seq !== undefined ? ` seq=${value.seq}` : value?.type !== undefined ? ` type=${value.type}` : "";
  return `${frame.cursor > 0n ? `#${frame.cursor} ` : ""}${frame.event.case ?? "empty"}${detail}`;
}

/**
 * Frames received on one stream. Everything is kept in arrival order (`received`); `take`
 * picks the first not-yet-taken frame of a kind, so tests can wait for events that
 * interleave with others (presence, heartbeats) without losing them.
 */
export class Inbox {
  readonly received: ServerFrame[] = [];
  private readonly taken = new Set<ServerFrame>();
  private readonly listeners = new Set<() => void>();
  private status: StreamStatus | undefined;
  /** Resolves with the stream's final status (OK for a normal end). */
  readonly ended: Promise<StreamStatus>;
  private settle!: (status: StreamStatus) => void;

  constructor() {
    this.ended = new Promise((resolve) => (this.settle = resolve));
  }

  push(frame: ServerFrame): void {
    this.received.push(frame);
    this.changed();
  }

  finish(status: StreamStatus): void {
    if (this.status) return;
    this.status = status;
    this.settle(status);
    this.changed();
  }

  get isEnded(): boolean {
    return this.status !== undefined;
  }

  /** Durable frames received so far (cursor > 0), in arrival order. */
  durable(): ServerFrame[] {
    return this.received.filter((f) => f.cursor > 0n);
  }

  /** Cursors of the durable frames received so far, as numbers. */
  cursors(): number[] {
    return this.durable().map((f) => Number(f.cursor));
  }

  /** Frames of one kind received so far. */
  all<C extends EventCase>(kind: C): { frame: ServerFrame; value: EventValue<C> }[] {
    return this.received.filter((f) => f.event.case === kind).map((frame) => ({ frame, value: frame.event.value as EventValue<C> }));
  }

  /** Waits for the first untaken frame of `kind` that matches `where`, and takes it. */
  async take<C extends EventCase>(
    kind: C,
    where: (value: EventValue<C>, frame: ServerFrame) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<{ frame: ServerFrame; value: EventValue<C> }> {
    const frame = await this.waitUntil(
      () => this.received.find((f) => !this.taken.has(f) && f.event.case === kind && where(f.event.value as EventValue<C>, f)),
      timeoutMs,
      kind,
    );
    this.taken.add(frame);
    return { frame, value: frame.event.value as EventValue<C> };
  }

  /** Waits until `count` frames of `kind` (matching `where`) were received in all. */
  async count<C extends EventCase>(kind: C, count: number, where: (value: EventValue<C>) => boolean = () => true, timeoutMs = 10_000) {
    const matching = () => this.received.filter((f) => f.event.case === kind && where(f.event.value as EventValue<C>));
    await this.waitUntil(() => (matching().length >= count ? true : undefined), timeoutMs, `${count} × ${kind}`);
    return matching();
  }

  /** Waits until the durable frames received include cursor `cursor`. */
  async untilCursor(cursor: number, timeoutMs = 10_000): Promise<void> {
    await this.waitUntil(() => (this.received.some((f) => f.cursor === BigInt(cursor)) ? true : undefined), timeoutMs, `cursor ${cursor}`);
  }

  /** Resolves with the stream's status once it ends; fails after `timeoutMs`. */
  async end(timeoutMs = 5000): Promise<StreamStatus> {
    return this.waitUntil(() => this.status, timeoutMs, "the end of the stream", true);
  }

  /** Lets `ms` pass and returns the untaken frames of `kind` that arrived (expected: none). */
  async quiet<C extends EventCase>(kind: C, ms: number, where: (value: EventValue<C>) => boolean = () => true): Promise<ServerFrame[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.received.filter((f) => !this.taken.has(f) && f.event.case === kind && where(f.event.value as EventValue<C>));
  }

  private waitUntil<T>(probe: () => T | undefined, timeoutMs: number, what: string, endIsAnswer = false): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = probe();
        if (found !== undefined) return done(() => resolve(found));
        if (this.status && !endIsAnswer) {
          return done(() => reject(new Error(`stream ended (${codeName(this.status!.code)}: ${this.status!.message}) before ${what}; ${this.summary()}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${this.summary()}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  private summary(): string {
    const last = this.received.slice(-12).map(describeFrame);
    return `received ${this.received.length} frames${last.length ? `, last: ${last.join(", ")}` : ""}`;
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
