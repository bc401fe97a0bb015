/** The Node-only parts of the SDK: the passphrase-encrypted file store and a transport helper. */
export { DEFAULT_KDF, FileStore, type KdfParams } from "./file-store.js";
export { nodeTransport, type NodeProtocol } from "./transport.js";
