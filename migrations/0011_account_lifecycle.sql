-- Account lifecycle (cyphr.account.v1): PIN, attempt limits, recovery key, TOTP,
-- single-use nonces for recovery and deletion, and the quarantine of deleted Cyphr IDs.
-- Nothing here is a secret in the clear: an argon2id hash of the PIN, public keys and
-- signatures, the TOTP secret sealed with a server key (AES-256-GCM), keyed hashes.

-- The optional account PIN (registration lock), 4 to 64 characters.
CREATE TABLE account_pins (
  user_id uuid PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
  -- argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash): the parameters travel
  -- with the hash, so raised parameters re-hash old PINs on their next success.
  pin_hash text NOT NULL,
  set_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT account_pins_hash_shape CHECK (pin_hash LIKE '$argon2id$%' AND length(pin_hash) <= 512)
);

-- Consecutive failures of a factor per account, and until when it is locked
-- (src/account/lockout.ts holds the schedule). A success deletes the row.
CREATE TABLE account_attempts (
  user_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  -- 'pin' | 'totp'
  factor text NOT NULL,
  failures integer NOT NULL,
  locked_until timestamptz,
  PRIMARY KEY (user_id, factor),
  CONSTRAINT account_attempts_factor CHECK (factor IN ('pin', 'totp')),
  CONSTRAINT account_attempts_failures CHECK (failures > 0)
);

-- The account's recovery public key (Ed25519), derived by the client from a recovery
-- phrase that never leaves it, and the identity key's signature that installed it.
CREATE TABLE account_recovery_keys (
  user_id uuid PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
  public_key bytea NOT NULL,
  -- By the identity key current when it was set, over
  -- "cyphr-recovery-key-v1" || 0x00 || cyphr_id || 0x00 || public_key.
  signature bytea NOT NULL,
  set_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT account_recovery_keys_key_length CHECK (octet_length(public_key) = 32),
  CONSTRAINT account_recovery_keys_signature_length CHECK (octet_length(signature) = 64)
);

-- TOTP (RFC 6238) two-factor login. Pending until confirmed_at is set.
CREATE TABLE account_totp (
  user_id uuid PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
  -- AES-256-GCM under the server's TOTP key (TOTP_KEY_FILE), AAD = user id:
  -- 12-byte nonce || ciphertext of the 20-byte secret || 16-byte tag.
  secret_sealed bytea NOT NULL,
  confirmed_at timestamptz,
  -- Highest 30-second time step whose code was accepted: a code of that step or an
  -- earlier one is a replay and is refused.
  last_step bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT account_totp_sealed_length CHECK (octet_length(secret_sealed) = 48)
);

-- Single-use nonces for RecoverAccount (purpose 1) and DeleteAccount (purpose 2),
-- valid 60 seconds. Issued for unknown ids too (no account enumeration).
CREATE TABLE account_challenges (
  nonce bytea PRIMARY KEY,
  purpose smallint NOT NULL,
  cyphr_id text NOT NULL,
  expires_at timestamptz NOT NULL,
  CONSTRAINT account_challenges_nonce_length CHECK (octet_length(nonce) = 32),
  CONSTRAINT account_challenges_purpose CHECK (purpose IN (1, 2))
);
CREATE INDEX account_challenges_expires_at_idx ON account_challenges (expires_at);
CREATE INDEX account_challenges_cyphr_id_idx ON account_challenges (cyphr_id);

-- Cyphr IDs of deleted accounts, by keyed hash only, until they may be registered again.
CREATE TABLE quarantined_cyphr_ids (
  -- HMAC-SHA-256(server fingerprint secret, 'cyphr-id' || 0x00 || cyphr_id).
  cyphr_id_hmac bytea PRIMARY KEY,
  until timestamptz NOT NULL,
  CONSTRAINT quarantined_cyphr_ids_hmac_length CHECK (octet_length(cyphr_id_hmac) = 32)
);
CREATE INDEX quarantined_cyphr_ids_until_idx ON quarantined_cyphr_ids (until);

-- A deleted account's direct chats stay for the peer (its messages become tombstones
-- under a random sender id), so deleting an identity no longer deletes them.
ALTER TABLE chats DROP CONSTRAINT chats_direct_user_low_fkey;
ALTER TABLE chats DROP CONSTRAINT chats_direct_user_high_fkey;
