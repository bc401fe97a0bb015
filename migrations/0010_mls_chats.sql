-- MLS chats (RFC 9420): Cyphr as the delivery service of MLS groups. A chat of protocol 2
-- is one MLS group; the server keeps its ciphersuite, its current epoch (commits are
-- accepted only for it, and move it on by one in the commit's transaction) and the latest
-- GroupInfo, and routes each commit's Welcome to the devices it names. Nothing here is
-- secret: MLS messages are stored as the clients encrypted them.

-- 1 = OPAQUE (the clients' own encryption, as before), 2 = MLS.
ALTER TABLE chats ADD COLUMN protocol smallint NOT NULL DEFAULT 1;
ALTER TABLE chats ADD COLUMN mls_ciphersuite integer;
ALTER TABLE chats ADD COLUMN mls_epoch bigint;
-- The latest GroupInfo (MLSMessage) as its committer uploaded it, for external joins.
ALTER TABLE chats ADD COLUMN mls_group_info bytea;
ALTER TABLE chats ADD CONSTRAINT chats_protocol_known CHECK (protocol IN (1, 2));
ALTER TABLE chats ADD CONSTRAINT chats_mls_shape CHECK (
  (protocol = 1 AND mls_ciphersuite IS NULL AND mls_epoch IS NULL AND mls_group_info IS NULL)
  OR (protocol = 2 AND mls_ciphersuite IS NOT NULL AND mls_epoch IS NOT NULL AND mls_epoch >= 0));
ALTER TABLE chats ADD CONSTRAINT chats_group_info_size CHECK (octet_length(mls_group_info) <= 4194304);

-- A pair of users has at most one direct chat per protocol.
ALTER TABLE chats DROP CONSTRAINT chats_direct_pair_key;
ALTER TABLE chats ADD CONSTRAINT chats_direct_pair_key UNIQUE (direct_user_low, direct_user_high, protocol);

-- One row per commit that carried a Welcome: the Welcome as sent (it names several
-- devices), kept MLS_WELCOME_RETENTION_DAYS for devices that are offline.
CREATE TABLE mls_welcomes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  commit_seq bigint NOT NULL,
  welcome bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT mls_welcomes_size CHECK (octet_length(welcome) <= 4194304)
);
CREATE INDEX mls_welcomes_created_at_idx ON mls_welcomes (created_at);

-- The devices a Welcome was routed to (the owners of the KeyPackageRefs it names).
CREATE TABLE mls_welcome_devices (
  welcome_id bigint NOT NULL REFERENCES mls_welcomes (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  device_id integer NOT NULL,
  PRIMARY KEY (user_id, device_id, welcome_id),
  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX mls_welcome_devices_welcome_idx ON mls_welcome_devices (welcome_id);
