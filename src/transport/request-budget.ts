/** Bounds on request bytes the server buffers before (or while) their handler runs. */
export interface RequestBudgetLimits {
  /** Bytes one connection (HTTP/2 session, HTTP/1.1 socket) may have buffered at once. */
  perConnectionBytes: number;
  /** Bytes all connections of the process may have buffered at once. */
  totalBytes: number;
}

/** Which bound a request ran into: its own connection's, or the process's (when no greedier connection could yield). */
export type BudgetLimit = "connection" | "process";

/** Why a request's bytes were refused, or taken back (`evicted`: a greedier connection's body made room for another's). */
export interface BudgetRefusal {
  limit: BudgetLimit;
  limitBytes: number;
  evicted: boolean;
}

/** What a charge does when the budget takes its bytes back: refuse its call and drop what it read. */
export type EvictHandler = (refusal: BudgetRefusal) => void;

/** One connection's share: the bytes its requests hold, and the charges still reading (the ones that can yield). */
class ConnectionShare {
  used = 0;
  readonly reading = new Set<BodyCharge>();
}

/**
 * The process-wide budget of buffered request bytes, and each connection's share of it.
 * A request charges every chunk it buffers; a chunk that would take its connection past
 * `perConnectionBytes` is refused (the client only competes with itself there). A chunk that
 * would take the process past `totalBytes` first takes bytes back from the connection holding
 * the most, when that one holds more than the asking connection would: its largest body still
 * being read is dropped and its call refused. So a greedy client can fill its own share and
 * lose it, never lock everyone else out. Bodies read in full and held while their handler
 * runs are never taken back; they return with their call.
 */
export class RequestBudget {
  private used = 0;
  /** Only connections holding bytes. */
  private readonly shares = new Map<object, ConnectionShare>();

  constructor(readonly limits: RequestBudgetLimits) {}

  /** Bytes buffered across the process. */
  get usedBytes(): number {
    return this.used;
  }

  /** Bytes buffered by one connection's requests. */
  usedBy(connection: object): number {
    return this.shares.get(connection)?.used ?? 0;
  }

  /** The largest share any connection holds. */
  get largestShareBytes(): number {
    let most = 0;
    for (const share of this.shares.values()) most = Math.max(most, share.used);
    return most;
  }

  /** A new request on `connection`; `onEvict` runs if the budget takes its bytes back while it is still reading. */
  open(connection: object, onEvict: EvictHandler): BodyCharge {
    return new BodyCharge(this, connection, onEvict);
  }

  /** @internal */
  share(connection: object): ConnectionShare {
    let share = this.shares.get(connection);
    if (!share) this.shares.set(connection, (share = new ConnectionShare()));
    return share;
  }

  /** @internal Adds `n` bytes for `share`, making room in the process if a greedier connection can yield. */
  admit(share: ConnectionShare, n: number): BudgetRefusal | undefined {
    const { perConnectionBytes, totalBytes } = this.limits;
    if (share.used + n > perConnectionBytes) return { limit: "connection", limitBytes: perConnectionBytes, evicted: false };
    while (this.used + n > totalBytes) {
      const victim = this.largestReading(share.used + n);
      if (!victim) return { limit: "process", limitBytes: totalBytes, evicted: false };
      victim.evict({ limit: "process", limitBytes: totalBytes, evicted: true });
    }
    share.used += n;
    this.used += n;
    return undefined;
  }

  /** @internal */
  give(connection: object, share: ConnectionShare, n: number): void {
    share.used -= n;
    this.used -= n;
    if (share.used === 0 && share.reading.size === 0) this.shares.delete(connection);
  }

  /** The largest body still being read (and holding bytes) on the connection holding the most, if that one holds more than `than`. */
  private largestReading(than: number): BodyCharge | undefined {
    let victim: BodyCharge | undefined;
    let victimShare = 0;
    for (const share of this.shares.values()) {
      if (share.used <= than || share.used < victimShare) continue;
      let largest: BodyCharge | undefined;
      for (const charge of share.reading) if (charge.held > (largest?.held ?? 0)) largest = charge;
      if (largest && (share.used > victimShare || !victim)) {
        victim = largest;
        victimShare = share.used;
      }
    }
    return victim;
  }
}

/**
 * The bytes one request holds of the budget. take() before buffering a chunk, settle() when
 * some of it was handed on (a complete stream message), finishReading() once the body is read
 * in full, release() when the call ends, on every path (idempotent).
 */
export class BodyCharge {
  held = 0;
  private readonly share: ConnectionShare;
  private released = false;

  constructor(
    private readonly budget: RequestBudget,
    private readonly connection: object,
    private readonly onEvict: EvictHandler,
  ) {
    this.share = budget.share(connection);
    this.share.reading.add(this);
  }

  /** Charges `n` more bytes; returns the refusal if they do not fit (nothing is charged then). */
  take(n: number): BudgetRefusal | undefined {
    if (this.released || n === 0) return undefined;
    const refusal = this.budget.admit(this.share, n);
    if (!refusal) this.held += n;
    return refusal;
  }

  /** The request now holds only `n` of its charged bytes (the rest was handed on or dropped). */
  settle(n: number): void {
    if (this.released || n >= this.held) return;
    this.budget.give(this.connection, this.share, this.held - n);
    this.held = n;
  }

  /** The body is read in full: its bytes stay charged until release(), and the budget no longer takes them back. */
  finishReading(): void {
    this.share.reading.delete(this);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.share.reading.delete(this);
    this.budget.give(this.connection, this.share, this.held);
    this.held = 0;
  }

  /** @internal The budget takes this request's bytes back. */
  evict(refusal: BudgetRefusal): void {
    this.release();
    this.onEvict(refusal);
  }
}
