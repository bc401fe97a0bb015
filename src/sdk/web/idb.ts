/** The few IndexedDB calls the store needs, as promises (the browser's API is event-based). */
import { CyphrError } from "../errors.js";

export type Db = IDBDatabase;

/** Opens (creating when new) a profile database with its two object stores. */
export function openDatabase(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore("meta");
      req.result.createObjectStore("entries");
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(storageError(req.error));
    req.onblocked = () => reject(new CyphrError("unavailable", "The profile is being upgraded in another tab: close the other Cyphr tabs and try again."));
  });
}

export function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(storageError(req.error));
  });
}

export async function listDatabases(): Promise<string[]> {
  return (await indexedDB.databases()).map((d) => d.name ?? "").filter((n) => n !== "");
}

export function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(storageError(req.error));
  });
}

/** Quota exceeded, private mode without storage, …: said plainly. */
function storageError(error: DOMException | null): CyphrError {
  const name = error?.name ?? "UnknownError";
  if (name === "QuotaExceededError") return new CyphrError("resource_exhausted", "The browser's storage for this site is full: free some space and try again.");
  return new CyphrError("unavailable", `The browser's storage failed (${name}): ${error?.message ?? "no details"}`);
}
