/**
 * Counts, by client_message_id, what was sent, what the server accepted (durably: the
 * answer came after commit) and what arrived on the recipient's stream. Lost = accepted
 * but never delivered; duplicated = delivered more than once to the same stream.
 */
export class DeliveryTracker {
  private readonly sent = new Set<string>();
  private readonly accepted = new Set<string>();
  private readonly received = new Map<string, number>();
  acceptedCount = 0;
  deliveredCount = 0;
  duplicates = 0;
  errors = 0;
  readonly errorKinds = new Map<string, number>();
  /** The first message seen of each error kind. */
  readonly errorSamples = new Map<string, string>();

  onSent(id: string): void {
    this.sent.add(id);
  }

  onAccepted(id: string): void {
    if (this.accepted.has(id)) return;
    this.accepted.add(id);
    this.acceptedCount++;
  }

  onError(kind: string, message = ""): void {
    this.errors++;
    if (!this.errorSamples.has(kind)) this.errorSamples.set(kind, message.slice(0, 300));
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
  }

  /** A message_new frame arrived on the recipient's stream; true the first time for this id. */
  onReceived(id: string): boolean {
    if (!this.sent.has(id)) return false;
    const count = (this.received.get(id) ?? 0) + 1;
    this.received.set(id, count);
    if (count === 1) {
      this.deliveredCount++;
      return true;
    }
    this.duplicates++;
    return false;
  }

  /** Accepted messages not (yet) delivered. */
  undelivered(): number {
    let n = 0;
    for (const id of this.accepted) if (!this.received.has(id)) n++;
    return n;
  }

  /** Delivered although the sender never got a success answer (e.g. the answer failed after commit). */
  deliveredUnacknowledged(): number {
    let n = 0;
    for (const id of this.received.keys()) if (!this.accepted.has(id)) n++;
    return n;
  }

  summary(): DeliverySummary {
    return {
      sent: this.sent.size,
      accepted: this.acceptedCount,
      delivered: this.deliveredCount,
      lost: this.undelivered(),
      duplicated: this.duplicates,
      deliveredUnacknowledged: this.deliveredUnacknowledged(),
      errors: this.errors,
      errorKinds: Object.fromEntries(this.errorKinds),
      errorSamples: Object.fromEntries(this.errorSamples),
    };
  }
}

export interface DeliverySummary {
  sent: number;
  accepted: number;
  delivered: number;
  lost: number;
  duplicated: number;
  deliveredUnacknowledged: number;
  errors: number;
  errorKinds: Record<string, number>;
  errorSamples: Record<string, string>;
}

export function addSummaries(a: DeliverySummary, b: DeliverySummary): DeliverySummary {
  const errorKinds = { ...a.errorKinds };
  for (const [k, v] of Object.entries(b.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + v;
  return {
    errorSamples: { ...b.errorSamples, ...a.errorSamples },
    sent: a.sent + b.sent,
    accepted: a.accepted + b.accepted,
    delivered: a.delivered + b.delivered,
    lost: a.lost + b.lost,
    duplicated: a.duplicated + b.duplicated,
    deliveredUnacknowledged: a.deliveredUnacknowledged + b.deliveredUnacknowledged,
    errors: a.errors + b.errors,
    errorKinds,
  };
}

export const EMPTY_SUMMARY: DeliverySummary = {
  sent: 0,
  accepted: 0,
  delivered: 0,
  lost: 0,
  duplicated: 0,
  deliveredUnacknowledged: 0,
  errors: 0,
  errorKinds: {},
  errorSamples: {},
};
