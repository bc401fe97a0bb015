/** Browser-only parts of the SDK (IndexedDB); the core is in ../index.js. */
export { DEFAULT_SCRYPT, IndexedDbStore, type ScryptParams } from "./indexeddb-store.js";
