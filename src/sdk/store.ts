/**
 * Where the SDK keeps a device's state: its private keys, session tokens, MLS group states
 * and key packages, stream cursors. One small interface so that the same SDK code runs in
 * Node (an encrypted file store) and in browsers (IndexedDB); nothing else in the SDK
 * touches storage. Keys are namespaced strings ("device/keys", "mls/group/<chat id>", …);
 * values are opaque bytes the SDK encodes itself.
 */
export interface Store {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix`, in no particular order. */
  keys(prefix: string): Promise<string[]>;
}

/** A Store in memory: for tests and for short-lived tools. */
export class MemoryStore implements Store {
  private readonly values = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    const value = this.values.get(key);
    return value?.slice();
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    this.values.set(key, value.slice());
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.values.keys()].filter((k) => k.startsWith(prefix));
  }
}
