/**
 * Every table and column the server stores, with its class and why it is kept: the one
 * source of GetStorageInventory and of the README's storage table. test/privacy-inventory
 * compares it with information_schema, so a column added without a class here fails the
 * build. Adding a column: add its row under its table, with the class that says what it
 * reveals and a reason a reader can check.
 */
export enum StorageClass {
  /** A public key or key package the clients publish. */
  PublicKey = "public key",
  /** A signature over public data (certificates, key installs). */
  Signature = "signature",
  /** Bytes encrypted by a client (end to end), or sealed under a server key; unreadable here. */
  Ciphertext = "ciphertext",
  /** HMAC under a server secret: compares values without storing them. */
  KeyedHash = "keyed hash",
  /** One-way hash (SHA-256, argon2id) of a secret the client holds. */
  Hash = "hash",
  /** Ids and relations the server needs to route and order (who is in which chat, which device). */
  RoutingMetadata = "routing metadata",
  /** When something happened or expires. */
  Timestamp = "timestamp",
  /** A sequence number, cursor or count. */
  Counter = "counter",
  /** A choice the user or the server made (privacy settings, roles, states). */
  Setting = "setting",
  /** What a user chose to publish: their Cyphr ID, display name, avatar reference. */
  PublicProfile = "public profile",
  /** The server's own bookkeeping (schema versions, instances). */
  ServerBookkeeping = "server bookkeeping",
}

export interface ColumnEntry {
  column: string;
  class: StorageClass;
  why: string;
}

export interface TableEntry {
  table: string;
  /** What the table is for and how long its rows stay. */
  purpose: string;
  columns: ColumnEntry[];
}

type Row = [column: string, cls: StorageClass, why: string];
const table = (name: string, purpose: string, rows: Row[]): TableEntry => ({
  table: name,
  purpose,
  columns: rows.map(([column, cls, why]) => ({ column, class: cls, why })),
});
const C = StorageClass;

export const STORAGE_INVENTORY: readonly TableEntry[] = [
  table("identities", "One row per account; until the account is deleted.", [
    ["id", C.RoutingMetadata, "internal account id every other table refers to"],
    ["cyphr_id", C.PublicProfile, "the public handle others address the account by"],
    ["identity_public_key", C.PublicKey, "verifies the account's device certificates and key changes"],
    ["ml_kem_public_key", C.PublicKey, "lets others encrypt to the account (post-quantum KEM)"],
    ["display_name", C.PublicProfile, "shown to others; the user chooses it, may leave it empty"],
    ["avatar_ref", C.PublicProfile, "reference to an avatar the user chose to publish"],
    ["encrypted_settings", C.Ciphertext, "the client's own settings, encrypted by the client; read back by GetPrivacySettings"],
    ["discoverable", C.Setting, "whether SearchUsers may return the account (default off)"],
    ["share_presence", C.Setting, "whether accepted contacts see online status and last seen"],
    ["created_at", C.Timestamp, "account age (migration defaults, support)"],
    ["updated_at", C.Timestamp, "last profile change"],
    ["last_seen_at", C.Timestamp, "last seen, shown only to accepted contacts when presence is shared"],
    ["next_device_id", C.Counter, "the id the next linked device gets"],
    ["read_receipts", C.Setting, "whether read receipts go to accepted contacts"],
    ["typing_indicators", C.Setting, "whether typing indicators go to accepted contacts"],
    ["group_adds", C.Setting, "who may add the account to groups (everyone, contacts, nobody)"],
    ["privacy_chosen_at", C.Timestamp, "when the user last chose a privacy setting; NULL lets new defaults apply"],
  ]),
  table("sessions", "A signed-in device; deleted by the sessions job once expired or revoked for longer than the refresh-token lifetime.", [
    ["id", C.RoutingMetadata, "session id carried in access tokens"],
    ["user_id", C.RoutingMetadata, "whose session"],
    ["device_id", C.RoutingMetadata, "which device signed in"],
    ["created_at", C.Timestamp, "sign-in time (ListSessions)"],
    ["refreshed_at", C.Timestamp, "last refresh (ListSessions)"],
    ["expires_at", C.Timestamp, "when the refresh token expires"],
    ["revoked_at", C.Timestamp, "when it was signed out"],
    ["revoke_reason", C.Setting, "logout or refresh-token reuse"],
    ["acked_cursor", C.Counter, "last event the session acknowledged (replay resumes after it)"],
  ]),
  table("refresh_tokens", "Every refresh token of a session, hashed; deleted with the session.", [
    ["token_hash", C.Hash, "SHA-256 of the token: recognises it and detects reuse without storing it"],
    ["session_id", C.RoutingMetadata, "which session"],
    ["issued_at", C.Timestamp, "when it was issued"],
    ["rotated_at", C.Timestamp, "when it was exchanged; a rotated token presented again revokes the session"],
  ]),
  table("login_challenges", "Single-use login nonces, 60 s; purged by a job a minute after expiry.", [
    ["nonce", C.Hash, "random nonce the device signs (not derived from any secret)"],
    ["cyphr_id", C.PublicProfile, "which account the nonce is for"],
    ["expires_at", C.Timestamp, "end of validity"],
  ]),
  table("devices", "An account's devices; until removed.", [
    ["user_id", C.RoutingMetadata, "whose device"],
    ["device_id", C.RoutingMetadata, "device number within the account"],
    ["signing_key", C.PublicKey, "verifies the device's logins"],
    ["certificate", C.Signature, "the identity key's signature over the device key"],
    ["fingerprint_hmac", C.KeyedHash, "recognises the same hardware without storing its fingerprint"],
    ["encrypted_name", C.Ciphertext, "the device's name, encrypted by the client"],
    ["created_at", C.Timestamp, "when it was linked"],
    ["last_active_on", C.Timestamp, "day of last use (a date, not a time)"],
  ]),
  table("device_links", "Pending device links, minutes; purged by a job once expired.", [
    ["id", C.RoutingMetadata, "link id"],
    ["secret_hash", C.Hash, "SHA-256 of the link secret the new device holds"],
    ["signing_key", C.PublicKey, "the new device's key"],
    ["fingerprint_hmac", C.KeyedHash, "the new device's hardware, keyed"],
    ["source_hmac", C.KeyedHash, "the requester's source address, keyed: rate limits without storing the address"],
    ["created_at", C.Timestamp, "when it began"],
    ["expires_at", C.Timestamp, "end of validity"],
    ["user_id", C.RoutingMetadata, "approving account"],
    ["device_id", C.RoutingMetadata, "id given by the approval"],
    ["certificate", C.Signature, "the approval's certificate"],
    ["provisioning_blob", C.Ciphertext, "account keys sealed end to end for the new device"],
    ["approved_at", C.Timestamp, "when it was approved"],
  ]),
  table("chats", "Direct chats and groups; until every member is gone.", [
    ["id", C.RoutingMetadata, "chat id"],
    ["kind", C.Setting, "direct or group"],
    ["direct_user_low", C.RoutingMetadata, "direct chats: one participant (one chat per pair); a random id that names no account once that one is deleted"],
    ["direct_user_high", C.RoutingMetadata, "direct chats: the other participant (the same after a deletion)"],
    ["encrypted_name", C.Ciphertext, "group name, encrypted by the clients"],
    ["encrypted_settings", C.Ciphertext, "group settings, encrypted by the clients"],
    ["group_version", C.Counter, "orders group changes"],
    ["last_seq", C.Counter, "last message number (orders senders)"],
    ["timer_seconds", C.Setting, "disappearing-message timer"],
    ["created_at", C.Timestamp, "creation time"],
    ["last_activity_at", C.Timestamp, "orders ListChats"],
    ["protocol", C.Setting, "opaque or MLS"],
    ["mls_ciphersuite", C.Setting, "MLS chats: the group's ciphersuite"],
    ["mls_epoch", C.Counter, "MLS chats: current epoch (orders commits)"],
    ["mls_group_info", C.PublicKey, "MLS chats: the public GroupInfo external joiners need"],
  ]),
  table("chat_members", "Who is (or was) in which chat; until the chat goes.", [
    ["chat_id", C.RoutingMetadata, "the chat"],
    ["user_id", C.RoutingMetadata, "the member"],
    ["role", C.Setting, "member or admin"],
    ["joined_at", C.Timestamp, "when they joined"],
    ["joined_seq", C.Counter, "first message they may read"],
    ["left_at", C.Timestamp, "when they left"],
    ["left_seq", C.Counter, "last message they may read"],
    ["left_reason", C.Setting, "left or removed"],
    ["delivered_seq", C.Counter, "delivery receipt position"],
    ["read_seq", C.Counter, "read receipt position"],
  ]),
  table("messages", "Encrypted messages; until deleted, expired (timer), or older than MESSAGE_RETENTION_DAYS when set.", [
    ["chat_id", C.RoutingMetadata, "the chat"],
    ["seq", C.Counter, "order within the chat"],
    ["id", C.RoutingMetadata, "message id"],
    ["sender_id", C.RoutingMetadata, "who sent it (NULL for system messages)"],
    ["client_message_id", C.RoutingMetadata, "the sender's idempotency key"],
    ["message_type", C.Setting, "the kind the client revealed (text, media, ...)"],
    ["kem_ciphertext", C.Ciphertext, "end-to-end encrypted"],
    ["ciphertext", C.Ciphertext, "end-to-end encrypted"],
    ["nonce", C.Ciphertext, "part of the encrypted payload"],
    ["tag", C.Ciphertext, "part of the encrypted payload"],
    ["header", C.Ciphertext, "end-to-end encrypted header"],
    ["system_event", C.RoutingMetadata, "system messages: membership, role or timer changes the server made"],
    ["created_at", C.Timestamp, "when it was sent"],
    ["edited_at", C.Timestamp, "when it was edited"],
    ["deleted_at", C.Timestamp, "when it was deleted (payload gone)"],
    ["expires_at", C.Timestamp, "disappearing messages: when it goes"],
  ]),
  table("event_counters", "Per-user event cursor; until the account goes.", [
    ["user_id", C.RoutingMetadata, "whose"],
    ["last_cursor", C.Counter, "last cursor handed out"],
  ]),
  table("events", "Durable events for replay; older than EVENT_RETENTION_DAYS are purged.", [
    ["user_id", C.RoutingMetadata, "recipient"],
    ["cursor", C.Counter, "order for the recipient"],
    ["kind", C.Setting, "event kind"],
    ["chat_id", C.RoutingMetadata, "which chat"],
    ["seq", C.Counter, "which message"],
    ["data", C.RoutingMetadata, "ids and positions of the event (no payload)"],
    ["created_at", C.Timestamp, "when it happened (retention)"],
  ]),
  table("instances", "Live server instances; removed when they stop answering.", [
    ["id", C.ServerBookkeeping, "instance id"],
    ["heartbeat_at", C.Timestamp, "last sign of life"],
  ]),
  table("presence", "Who is connected to which instance; removed on disconnect.", [
    ["user_id", C.RoutingMetadata, "who is online"],
    ["instance_id", C.RoutingMetadata, "where"],
    ["since", C.Timestamp, "since when"],
  ]),
  table("calls", "Call records; older than CALL_RECORD_RETENTION_DAYS are purged.", [
    ["id", C.RoutingMetadata, "call id"],
    ["chat_id", C.RoutingMetadata, "which chat"],
    ["caller_id", C.RoutingMetadata, "who called"],
    ["caller_session_id", C.RoutingMetadata, "which of the caller's sessions rings"],
    ["state", C.Setting, "ringing, accepted, ended"],
    ["video", C.Setting, "audio or video"],
    ["answered_by", C.RoutingMetadata, "who answered"],
    ["answered_session_id", C.RoutingMetadata, "on which session"],
    ["end_reason", C.Setting, "how it ended"],
    ["created_at", C.Timestamp, "when it started (retention)"],
    ["ring_deadline", C.Timestamp, "when ringing ends as missed"],
    ["answered_at", C.Timestamp, "when answered"],
    ["ended_at", C.Timestamp, "when ended"],
  ]),
  table("call_participants", "Who takes part in a call; deleted with the call record.", [
    ["call_id", C.RoutingMetadata, "the call"],
    ["user_id", C.RoutingMetadata, "the participant"],
    ["live", C.Setting, "whether the call is still going for them"],
  ]),
  table("key_packages", "Published MLS key packages; deleted when claimed (after a grace period) or expired.", [
    ["id", C.RoutingMetadata, "row id"],
    ["user_id", C.RoutingMetadata, "whose"],
    ["device_id", C.RoutingMetadata, "which device"],
    ["ciphersuite", C.Setting, "MLS ciphersuite"],
    ["ref", C.Hash, "the package's KeyPackageRef (a hash of public data)"],
    ["key_package", C.PublicKey, "the public key package"],
    ["last_resort", C.Setting, "reusable last-resort package"],
    ["not_after", C.Timestamp, "end of validity (seconds since the epoch)"],
    ["created_at", C.Timestamp, "upload time"],
    ["claimed_at", C.Timestamp, "when it was handed out"],
  ]),
  table("mls_welcomes", "MLS Welcomes waiting for their devices; purged after a retention period.", [
    ["id", C.RoutingMetadata, "row id"],
    ["chat_id", C.RoutingMetadata, "which chat"],
    ["commit_seq", C.Counter, "the commit that added the member"],
    ["welcome", C.Ciphertext, "the MLS Welcome (encrypted to the new members)"],
    ["created_at", C.Timestamp, "retention"],
  ]),
  table("mls_welcome_devices", "Which devices a Welcome is for; deleted with it.", [
    ["welcome_id", C.RoutingMetadata, "the Welcome"],
    ["user_id", C.RoutingMetadata, "recipient"],
    ["device_id", C.RoutingMetadata, "recipient device"],
  ]),
  table("contacts", "Whom a user accepted (wrote to, replied to, accepted a request from); until either account goes.", [
    ["user_id", C.RoutingMetadata, "who accepted"],
    ["contact_id", C.RoutingMetadata, "whom"],
    ["accepted_at", C.Timestamp, "when"],
  ]),
  table("blocks", "Whom a user blocked; until unblocked.", [
    ["blocker_id", C.RoutingMetadata, "who blocked"],
    ["blocked_id", C.RoutingMetadata, "whom"],
    ["blocked_at", C.Timestamp, "when (ListBlocked order)"],
  ]),
  table("hidden_messages", "Messages a member never sees: stored (or edited) while they had blocked the sender; until the message goes.", [
    ["chat_id", C.RoutingMetadata, "the message's chat"],
    ["seq", C.Counter, "the message's position in the chat"],
    ["user_id", C.RoutingMetadata, "the member it is hidden from"],
  ]),
  table("chat_requests", "Chats that are a message request for a member; until accepted or declined.", [
    ["chat_id", C.RoutingMetadata, "the chat"],
    ["user_id", C.RoutingMetadata, "for whom it is a request"],
    ["requester_id", C.RoutingMetadata, "who wrote first or added them"],
    ["created_at", C.Timestamp, "when"],
    ["declined_at", C.Timestamp, "when it was declined (the chat stays hidden for them)"],
  ]),
  table("rate_limit_buckets", "Token buckets of the shared rate limits; idle buckets are purged by a job.", [
    ["key", C.KeyedHash, "HMAC of limiter and subject: never the user id or address itself"],
    ["tokens", C.Counter, "tokens left"],
    ["updated_at", C.Timestamp, "last refill"],
  ]),
  table("account_pins", "The optional registration-lock PIN; until removed.", [
    ["user_id", C.RoutingMetadata, "whose"],
    ["pin_hash", C.Hash, "argon2id of the PIN"],
    ["set_at", C.Timestamp, "when set"],
  ]),
  table("account_attempts", "Consecutive failed PIN/TOTP attempts; deleted on success.", [
    ["user_id", C.RoutingMetadata, "whose"],
    ["factor", C.Setting, "pin or totp"],
    ["failures", C.Counter, "failures in a row"],
    ["locked_until", C.Timestamp, "lockout end (5 failures free, then 30 s doubling, at most 24 h)"],
  ]),
  table("account_recovery_keys", "The account's recovery public key; until replaced.", [
    ["user_id", C.RoutingMetadata, "whose"],
    ["public_key", C.PublicKey, "verifies a recovery"],
    ["signature", C.Signature, "the identity key's signature installing it"],
    ["set_at", C.Timestamp, "when set"],
  ]),
  table("account_totp", "TOTP two-factor secret, sealed; until disabled.", [
    ["user_id", C.RoutingMetadata, "whose"],
    ["secret_sealed", C.Ciphertext, "the TOTP secret sealed with the server's TOTP key (AES-256-GCM)"],
    ["confirmed_at", C.Timestamp, "when confirmed"],
    ["last_step", C.Counter, "last accepted time step (replay protection)"],
    ["created_at", C.Timestamp, "when set up"],
  ]),
  table("account_challenges", "Single-use recovery/deletion nonces, 60 s.", [
    ["nonce", C.Hash, "random nonce the recovery key (recovery) or the identity key (deletion) signs"],
    ["purpose", C.Setting, "recovery or deletion"],
    ["cyphr_id", C.PublicProfile, "which account"],
    ["expires_at", C.Timestamp, "end of validity"],
  ]),
  table("quarantined_cyphr_ids", "Cyphr IDs of deleted accounts, keyed, until they may be reused.", [
    ["cyphr_id_hmac", C.KeyedHash, "the deleted Cyphr ID, keyed"],
    ["until", C.Timestamp, "end of quarantine"],
  ]),
  table("attachments", "Encrypted attachments (ciphertext only); removed when deleted, expired or never completed.", [
    ["upload_id", C.RoutingMetadata, "random upload id, the blob's key"],
    ["attachment_id", C.RoutingMetadata, "random capability to read the attachment"],
    ["owner", C.RoutingMetadata, "who uploaded it (quota, deletion with the account)"],
    ["size", C.Counter, "ciphertext size in bytes (quota)"],
    ["sha256", C.Hash, "SHA-256 of the ciphertext, checked at completion"],
    ["chunk_size", C.Setting, "chunk layout of the upload"],
    ["ttl_seconds", C.Setting, "lifetime granted at completion"],
    ["created_at", C.Timestamp, "when the upload began"],
    ["completed_at", C.Timestamp, "when it was completed"],
    ["expires_at", C.Timestamp, "when it is removed"],
  ]),
  table("attachment_chunks", "Chunks an unfinished upload received; deleted when the upload completes (the bytes stay in the BlobStore) or is removed.", [
    ["upload_id", C.RoutingMetadata, "the upload"],
    ["index", C.Counter, "chunk number"],
    ["length", C.Counter, "chunk size in bytes"],
    ["sha256", C.Hash, "SHA-256 of the chunk's ciphertext (a rewrite must match)"],
    ["stored", C.Setting, "whether its bytes are written"],
  ]),
  table("attachment_garbage", "Blobs whose metadata is gone, until the purge job deletes their bytes.", [
    ["blob_key", C.RoutingMetadata, "the blob to purge"],
    ["generation", C.Counter, "purge generation (a blob queued again is purged again)"],
    ["queued_at", C.Timestamp, "when queued"],
  ]),
  table("attachment_blob_parts", "Attachment ciphertext when ATTACHMENTS_STORE=postgres; purged by the job once the attachment or upload is gone.", [
    ["blob_key", C.RoutingMetadata, "the blob"],
    ["part", C.Counter, "part number"],
    ["data", C.Ciphertext, "client-encrypted attachment bytes"],
  ]),
  table("schema_migrations", "Applied migrations.", [
    ["version", C.ServerBookkeeping, "migration number"],
    ["name", C.ServerBookkeeping, "migration file name"],
    ["checksum", C.ServerBookkeeping, "detects an edited migration"],
    ["applied_at", C.Timestamp, "when applied"],
  ]),
];
