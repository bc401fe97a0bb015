-- Identities, sessions and login challenges.
-- Nothing here is personal or secret: public keys, a keyed hash of the device
-- fingerprint, hashes of refresh tokens, and user-chosen profile fields.

CREATE TABLE identities (
  id uuid PRIMARY KEY,
  cyphr_id text NOT NULL,
  identity_public_key bytea NOT NULL,
  ml_kem_public_key bytea NOT NULL,
  -- HMAC-SHA-256(server secret, SHA-256(hardware id)): compares devices without storing the fingerprint.
  device_fingerprint_hmac bytea NOT NULL,
  display_name text,
  avatar_ref text,
  -- Client-encrypted settings blob; opaque to the server.
  encrypted_settings bytea,
  discoverable boolean NOT NULL DEFAULT true,
  share_presence boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT identities_cyphr_id_key UNIQUE (cyphr_id),
  CONSTRAINT identities_identity_public_key_key UNIQUE (identity_public_key),
  CONSTRAINT identities_cyphr_id_format CHECK (cyphr_id ~ '^[a-z0-9_]{3,30}$'),
  CONSTRAINT identities_identity_key_length CHECK (octet_length(identity_public_key) = 32),
  CONSTRAINT identities_ml_kem_key_length CHECK (octet_length(ml_kem_public_key) = 1568),
  CONSTRAINT identities_fingerprint_length CHECK (octet_length(device_fingerprint_hmac) = 32),
  CONSTRAINT identities_settings_size CHECK (encrypted_settings IS NULL OR octet_length(encrypted_settings) <= 65536)
);

-- Prefix search on discoverable ids (SearchUsers): text_pattern_ops serves LIKE 'prefix%'.
CREATE INDEX identities_discoverable_cyphr_id_idx
  ON identities (cyphr_id text_pattern_ops) WHERE discoverable;

CREATE TABLE sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  refreshed_at timestamptz NOT NULL DEFAULT now(),
  -- When the current refresh token expires; refreshing moves it forward.
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  -- 'logout' | 'refresh_token_reuse'
  revoke_reason text
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Every refresh token ever issued, by SHA-256 hash only. A row whose rotated_at is set
-- was replaced; presenting it again is token reuse and revokes the session.
CREATE TABLE refresh_tokens (
  token_hash bytea PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  issued_at timestamptz NOT NULL DEFAULT now(),
  rotated_at timestamptz,
  CONSTRAINT refresh_tokens_hash_length CHECK (octet_length(token_hash) = 32)
);

CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- Single-use login nonces. Issued for unknown ids too (no account enumeration).
CREATE TABLE login_challenges (
  nonce bytea PRIMARY KEY,
  cyphr_id text NOT NULL,
  expires_at timestamptz NOT NULL,
  CONSTRAINT login_challenges_nonce_length CHECK (octet_length(nonce) = 32)
);

CREATE INDEX login_challenges_expires_at_idx ON login_challenges (expires_at);
