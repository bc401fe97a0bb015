/**
 * The group-commit queue: sends wait here per chat, in the order they were submitted.
 * A batch takes whole runs of waiting sends, chat by chat (the chat waiting longest
 * first), and a chat with sends in a batch being committed is left out of the next batch
 * until that one ends. Two transactions never hold sends of one chat at once, so a
 * chat's sends get their seq in submission order (within a batch the statement numbers
 * them in array order): a client may submit its next send to a chat as soon as the
 * previous one is queued, without waiting for its commit (src/realtime/client-frames.ts),
 * and the two still commit together, in order. PostgreSQL would serialize two such
 * batches on the chat's row lock anyway; here the later sends join one bigger batch
 * instead of holding a second connection while they wait.
 */
export class SendQueue<T extends { readonly chatId: string }> {
  /** Waiting sends per chat, oldest first; a chat is a key only while it has some. */
  private readonly waiting = new Map<string, T[]>();
  /** Chats with sends waiting and none being committed, in the order they became so. */
  private readonly ready = new Set<string>();
  /** Chats with sends in a batch being committed. */
  private readonly busy = new Set<string>();
  private count = 0;

  /** Sends waiting, in all chats. */
  get size(): number {
    return this.count;
  }

  /** True when a batch could be taken now. */
  get hasReady(): boolean {
    return this.ready.size > 0;
  }

  push(item: T): void {
    const queue = this.waiting.get(item.chatId);
    if (queue) queue.push(item);
    else {
      this.waiting.set(item.chatId, [item]);
      if (!this.busy.has(item.chatId)) this.ready.add(item.chatId);
    }
    this.count++;
  }

  /**
   * Up to `max` sends of chats not being committed, each chat's in order; those chats are
   * busy until `release` is given the batch.
   */
  take(max: number): T[] {
    const batch: T[] = [];
    for (const chatId of this.ready) {
      if (batch.length >= max) break;
      const queue = this.waiting.get(chatId)!;
      const taken = queue.length <= max - batch.length ? queue : queue.splice(0, max - batch.length);
      for (const item of taken) batch.push(item);
      if (taken === queue) this.waiting.delete(chatId);
      this.ready.delete(chatId);
      this.busy.add(chatId);
    }
    this.count -= batch.length;
    return batch;
  }

  /** The batch `take` gave has ended: its chats may be taken again. */
  release(batch: readonly T[]): void {
    for (const item of batch) {
      if (!this.busy.delete(item.chatId)) continue;
      if (this.waiting.has(item.chatId)) this.ready.add(item.chatId);
    }
  }
}
