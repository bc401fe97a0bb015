import { BoundedMap } from "../shared/bounded-map.js";

/**
 * Remembers, for a few seconds, that a session was found active, so that unary calls do
 * not each pay a database round trip. Revocation removes the entry at once on the
 * revoking instance and, through the events channel, on every other instance; the short
 * lifetime bounds the damage of a lost notification.
 */
export class ActiveSessions {
  private readonly confirmed = new BoundedMap<string, number>(200_000);

  constructor(private readonly ttlMs = 5_000) {}

  isKnownActive(sessionId: string, now = Date.now()): boolean {
    const until = this.confirmed.get(sessionId);
    return until !== undefined && until > now;
  }

  confirm(sessionId: string, now = Date.now()): void {
    this.confirmed.set(sessionId, now + this.ttlMs);
  }

  revoke(sessionId: string): void {
    this.confirmed.delete(sessionId);
  }

  /** Notifications may have been missed: trust the database again for everything. */
  forgetAll(): void {
    this.confirmed.clear();
  }
}
