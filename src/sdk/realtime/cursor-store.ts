/**
 * The stream's resume cursor in the Store ("live/cursor": the highest durable event cursor this
 * device handled, as 8 bytes big-endian). Only this module reads or writes the "live/" keys.
 */
import { CyphrError } from "../errors.js";
import type { Store } from "../store.js";

const KEY = "live/cursor";

export async function loadCursor(store: Store): Promise<bigint | undefined> {
  const bytes = await store.get(KEY);
  if (!bytes) return undefined;
  if (bytes.length !== 8)
    throw new CyphrError("data_loss", "The stored stream cursor is damaged: delete the profile's live/cursor entry to resume from the server's stored ack.");
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, false);
}

export async function saveCursor(store: Store, cursor: bigint): Promise<void> {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, cursor, false);
  await store.set(KEY, bytes);
}
