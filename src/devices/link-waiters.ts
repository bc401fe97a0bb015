import { ResourceExhaustedError } from "../shared/errors.js";

/**
 * The WaitDeviceLink streams open on this instance: bounded in number, and woken at once
 * when their link is approved here (approvals on other instances are seen by polling).
 */
export class LinkWaiters {
  private open = 0;
  private readonly wakers = new Map<string, Set<() => void>>();

  constructor(private readonly max: number) {}

  /** Takes a slot for a wait on `linkId`; the returned function gives it back. */
  enter(linkId: string, wake: () => void): () => void {
    if (this.open >= this.max) throw new ResourceExhaustedError("too many device link waits open; retry later", 1_000);
    this.open++;
    let set = this.wakers.get(linkId);
    if (!set) this.wakers.set(linkId, (set = new Set()));
    set.add(wake);
    return () => {
      this.open--;
      set.delete(wake);
      if (set.size === 0) this.wakers.delete(linkId);
    };
  }

  wake(linkId: string): void {
    for (const wake of this.wakers.get(linkId) ?? []) wake();
  }
}
