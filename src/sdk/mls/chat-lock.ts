/**
 * One operation at a time per chat: an MLS group state is a value that each send, commit and
 * processed message replaces, so two of them on one chat must not interleave.
 */
export class ChatLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(chatId: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(chatId) ?? Promise.resolve();
    const result = before.then(work, work);
    const tail = result.catch(() => undefined);
    this.tails.set(chatId, tail);
    void tail.then(() => {
      if (this.tails.get(chatId) === tail) this.tails.delete(chatId);
    });
    return result;
  }
}
