/** The Node-only parts of the SDK: the passphrase-encrypted file store and a transport helper. */
export { DEFAULT_KDF, FileStore, type KdfParams } from "./file-store.js";
export { DEFAULT_PING, type NodeProtocol, nodeTransport, type PingOptions } from "./transport.js";
