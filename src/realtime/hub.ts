import type { ServerFrame } from "../gen/cyphr/realtime/v1/realtime_pb.js";
import { recordStreamClosed, recordStreamOpened } from "../metrics/registry.js";

/** One open event stream, as the hub and the bus see it. */
export interface Subscriber {
  readonly userId: string;
  readonly sessionId: string;
  /** A durable event with its per-user cursor (frame.cursor is set). */
  deliverDurable(frame: ServerFrame): void;
  /** An ephemeral frame (typing, presence, call signal). */
  deliverEphemeral(frame: ServerFrame): void;
  /** Notifications may have been missed: fetch anything newer than what was delivered. */
  resync(): void;
  /** Ends the stream with an error (e.g. session revoked). */
  fail(error: Error): void;
}

/** The streams open on this instance, by user. */
export class Hub {
  private readonly byUser = new Map<string, Set<Subscriber>>();

  add(subscriber: Subscriber): void {
    let set = this.byUser.get(subscriber.userId);
    if (!set) this.byUser.set(subscriber.userId, (set = new Set()));
    if (set.has(subscriber)) return;
    set.add(subscriber);
    recordStreamOpened();
  }

  remove(subscriber: Subscriber): void {
    const set = this.byUser.get(subscriber.userId);
    if (!set?.delete(subscriber)) return;
    recordStreamClosed();
    if (set.size === 0) this.byUser.delete(subscriber.userId);
  }

  has(userId: string): boolean {
    return this.byUser.has(userId);
  }

  of(userId: string): ReadonlySet<Subscriber> {
    return this.byUser.get(userId) ?? EMPTY;
  }

  /** Open streams of the user on this instance. */
  count(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  all(): Subscriber[] {
    return [...this.byUser.values()].flatMap((set) => [...set]);
  }
}

const EMPTY: ReadonlySet<Subscriber> = new Set();
