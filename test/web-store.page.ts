/**
 * The browser side of test/web-store.test.ts: bundled with esbuild and run in Chromium as
 * `window.StorePage`. Typechecked with the DOM library (src/web/tsconfig.json).
 */
import { IndexedDbStore } from "../src/sdk/web/index.js";

const KDF = { N: 2 ** 14, r: 8, p: 1 };
const PROFILE = "p1";
const PASS = "pass phrase";

const codeOf = (e: unknown) => (e as { code?: string }).code ?? String(e);

function rawDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(`cyphr-profile-${PROFILE}`);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export async function roundTrip() {
  const store = await IndexedDbStore.open(PROFILE, PASS, { kdf: KDF, label: "alice_1" });
  await store.set("account/keys", new Uint8Array([1, 2, 3]));
  await store.set("mls/group/x", new Uint8Array([4]));
  await store.set("mls/group/y", new Uint8Array([5]));
  await store.delete("mls/group/y");
  store.close();
  const again = await IndexedDbStore.open(PROFILE, PASS);
  const value = Array.from((await again.get("account/keys")) ?? []);
  const keys = (await again.keys("mls/")).sort();
  again.close();
  return { value, keys, profiles: await IndexedDbStore.profiles() };
}

export async function wrongPassphrase() {
  return IndexedDbStore.open(PROFILE, "wrong phrase").then(
    () => "opened",
    (e: unknown) => `${codeOf(e)}: ${(e as Error).message}`,
  );
}

export async function rawContents() {
  const db = await rawDb();
  const records = (await done(db.transaction("entries").objectStore("entries").getAll())) as Record<string, Uint8Array>[];
  const keys = await done(db.transaction("entries").objectStore("entries").getAllKeys());
  db.close();
  const fields = records.flatMap((r) => Object.values(r));
  return { keys: keys.map(String), text: fields.map((b) => String.fromCharCode(...b)).join("|"), sizes: fields.map((b) => b.length) };
}

/** Puts one entry's sealed value under another entry, then changes the stored scrypt cost. */
export async function tamper() {
  const db = await rawDb();
  const entries = db.transaction("entries", "readwrite").objectStore("entries");
  const [first, second] = (await done(entries.getAll())) as { name: Uint8Array; value: Uint8Array }[];
  const [firstKey] = await done(entries.getAllKeys());
  await done(db.transaction("entries", "readwrite").objectStore("entries").put({ name: first!.name, value: second!.value }, firstKey!));
  const store = await IndexedDbStore.open(PROFILE, PASS);
  const read = (key: string) =>
    store.get(key).then(
      () => "read",
      (e: unknown) => codeOf(e),
    );
  const reads = [await read("account/keys"), await read("mls/group/x")].sort();
  store.close();
  const meta = db.transaction("meta", "readwrite").objectStore("meta");
  const profile = (await done(meta.get("profile"))) as { kdf: { N: number } };
  profile.kdf.N = 2 ** 30;
  await done(db.transaction("meta", "readwrite").objectStore("meta").put(profile, "profile"));
  db.close();
  const settings = await IndexedDbStore.open(PROFILE, PASS).then(
    () => "opened",
    (e: unknown) => codeOf(e),
  );
  return { reads, settings };
}
