-- Chats, memberships and messages. Message content is ciphertext produced by
-- clients; the server keeps only what it needs to route, order and expire it.

CREATE TABLE chats (
  id uuid PRIMARY KEY,
  -- 1 = direct, 2 = group
  kind smallint NOT NULL CHECK (kind IN (1, 2)),
  -- Direct chats: the two participants, smaller uuid first, so a pair has one chat.
  direct_user_low uuid REFERENCES identities (id) ON DELETE CASCADE,
  direct_user_high uuid REFERENCES identities (id) ON DELETE CASCADE,
  -- Groups: client-encrypted name and settings (opaque).
  encrypted_name bytea,
  encrypted_settings bytea,
  group_version bigint NOT NULL DEFAULT 0,
  -- Highest seq allocated; the row lock on this counter orders concurrent senders.
  last_seq bigint NOT NULL DEFAULT 0,
  -- Disappearing-message timer in seconds; NULL = off.
  timer_seconds integer CHECK (timer_seconds IS NULL OR timer_seconds BETWEEN 1 AND 31536000),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT chats_direct_pair_key UNIQUE (direct_user_low, direct_user_high),
  CONSTRAINT chats_direct_shape CHECK (
    (kind = 1 AND direct_user_low IS NOT NULL AND direct_user_high IS NOT NULL AND direct_user_low < direct_user_high)
    OR (kind = 2 AND direct_user_low IS NULL AND direct_user_high IS NULL)),
  CONSTRAINT chats_group_name_size CHECK (octet_length(encrypted_name) <= 1024),
  CONSTRAINT chats_group_settings_size CHECK (octet_length(encrypted_settings) <= 65536)
);

CREATE TABLE chat_members (
  chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  -- 1 = member, 2 = admin
  role smallint NOT NULL DEFAULT 1 CHECK (role IN (1, 2)),
  joined_at timestamptz NOT NULL DEFAULT now(),
  -- First seq this member may read (the system message announcing the joining).
  joined_seq bigint NOT NULL DEFAULT 1,
  -- Set when the membership ended: the last seq this member may read.
  left_at timestamptz,
  left_seq bigint,
  -- 2 = left, 3 = removed (matches MembershipState); NULL while active.
  left_reason smallint CHECK (left_reason IN (2, 3)),
  -- Receipt positions; only ever move forward.
  delivered_seq bigint NOT NULL DEFAULT 0,
  read_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (chat_id, user_id),
  CONSTRAINT chat_members_left_shape CHECK ((left_at IS NULL) = (left_seq IS NULL) AND (left_at IS NULL) = (left_reason IS NULL))
);

CREATE INDEX chat_members_user_id_idx ON chat_members (user_id);

CREATE TABLE messages (
  chat_id uuid NOT NULL,
  seq bigint NOT NULL,
  id uuid NOT NULL,
  -- NULL for system messages.
  sender_id uuid,
  client_message_id uuid,
  -- cyphr.messaging.v1.MessageType; chosen and revealed by the client.
  message_type smallint NOT NULL,
  -- End-to-end-encrypted payload, opaque; all NULL once deleted or purged.
  kem_ciphertext bytea,
  ciphertext bytea,
  nonce bytea,
  tag bytea,
  header bytea,
  -- System messages only: what changed (membership, roles, timer), metadata the server already knows.
  system_event jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  edited_at timestamptz,
  deleted_at timestamptz,
  expires_at timestamptz,
  PRIMARY KEY (chat_id, seq),
  CONSTRAINT messages_idempotency_key UNIQUE (chat_id, sender_id, client_message_id)
) PARTITION BY HASH (chat_id);

-- One partition per remainder; the count is fixed when this migration runs
-- (server setting MESSAGE_PARTITIONS, default 16; later changes need a new migration).
DO $$
DECLARE
  partitions integer := coalesce(nullif(current_setting('cyphr.message_partitions', true), ''), '16')::integer;
BEGIN
  IF partitions < 1 OR partitions > 1024 THEN
    RAISE EXCEPTION 'cyphr.message_partitions must be 1-1024, got %', partitions;
  END IF;
  FOR i IN 0 .. partitions - 1 LOOP
    EXECUTE format('CREATE TABLE messages_p%s PARTITION OF messages FOR VALUES WITH (MODULUS %s, REMAINDER %s)', i, partitions, i);
  END LOOP;
END
$$;

-- EditMessage/DeleteMessage look messages up by id alone.
CREATE INDEX messages_id_idx ON messages (id);
-- The sweeper finds expired messages.
CREATE INDEX messages_expires_at_idx ON messages (expires_at) WHERE expires_at IS NOT NULL;
