/** The largest chunk of an upload (PutChunk data, CreateUpload chunk_size), and of one read. */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/** The smallest chunk_size: keeps a 100 MiB attachment at 1,600 chunks or fewer. */
export const MIN_CHUNK_BYTES = 64 * 1024;

/** The shortest lifetime a client may ask for, in seconds. */
export const MIN_EXPIRES_IN_SECONDS = 1;

/** Blobs the purge job deletes from the store in one pass. */
export const GARBAGE_BATCH = 100;
