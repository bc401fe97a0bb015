/**
 * Hands Live's events to the app: listeners by kind (called synchronously, in order), and async
 * iterators, each with a bounded queue. A full queue makes emit() wait for its reader, which slows
 * the stream down instead of holding an unbounded backlog (the server ends a stream that falls too
 * far behind; Live then resumes from its cursor).
 */
import { toCyphrError } from "../errors.js";
import type { EventOf, Listener, LiveEvent, LiveEventKind } from "./events.js";

type AnyListener = (event: LiveEvent) => void;

class Subscription implements AsyncIterator<LiveEvent> {
  private readonly queue: LiveEvent[] = [];
  private reader?: (result: IteratorResult<LiveEvent>) => void;
  private space?: () => void;
  private ended = false;
  private unblocked = false;

  constructor(
    private readonly capacity: number,
    private readonly leave: (s: Subscription) => void,
  ) {}

  /** Queues an event; resolves once the queue has room again. */
  async push(event: LiveEvent): Promise<void> {
    if (this.ended) return;
    if (this.reader) {
      const read = this.reader;
      this.reader = undefined;
      read({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    while (this.queue.length >= this.capacity && !this.ended && !this.unblocked) await new Promise<void>((resolve) => (this.space = resolve));
  }

  /** From now on push never waits (Live is closing: its last few events queue beyond the bound). */
  unblock(): void {
    this.unblocked = true;
    this.space?.();
  }

  end(): void {
    this.ended = true;
    this.reader?.({ value: undefined, done: true });
    this.reader = undefined;
    this.space?.();
  }

  next(): Promise<IteratorResult<LiveEvent>> {
    const event = this.queue.shift();
    if (event) {
      this.space?.();
      this.space = undefined;
      return Promise.resolve({ value: event, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.reader = resolve));
  }

  return(): Promise<IteratorResult<LiveEvent>> {
    this.queue.length = 0;
    this.end();
    this.leave(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<LiveEvent> {
    return this;
  }
}

export class Emitter {
  private readonly listeners = new Map<LiveEventKind, Set<AnyListener>>();
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly iteratorBuffer: number) {}

  on<K extends LiveEventKind>(kind: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(kind);
    if (!set) this.listeners.set(kind, (set = new Set()));
    set.add(listener as AnyListener);
    return () => this.off(kind, listener);
  }

  off<K extends LiveEventKind>(kind: K, listener: Listener<K>): void {
    this.listeners.get(kind)?.delete(listener as AnyListener);
  }

  /** An iterator of every event from now on; ended by close(). */
  iterate(): AsyncIterableIterator<LiveEvent> {
    const s = new Subscription(this.iteratorBuffer, (gone) => this.subscriptions.delete(gone));
    this.subscriptions.add(s);
    return s as unknown as AsyncIterableIterator<LiveEvent>;
  }

  /** Calls the listeners (one that throws is reported as an error event), then queues the event for each iterator. */
  async emit<K extends LiveEventKind>(event: EventOf<K>): Promise<void> {
    for (const listener of [...(this.listeners.get(event.kind) ?? [])]) {
      try {
        listener(event);
      } catch (err) {
        if (event.kind !== "error") await this.emit({ kind: "error", error: toCyphrError(err) });
      }
    }
    for (const s of [...this.subscriptions]) await s.push(event);
  }

  /** Stops waiting for iterator readers, so that closing never hangs on one that stopped reading. */
  unblock(): void {
    for (const s of this.subscriptions) s.unblock();
  }

  /** Ends every iterator (after what they hold was read). */
  close(): void {
    for (const s of this.subscriptions) s.end();
    this.subscriptions.clear();
  }
}
