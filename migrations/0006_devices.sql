-- Multi-device accounts: an account has 1..MAX_DEVICES devices, each with its own Ed25519
-- signing key certified by the account's identity key, and sessions belong to a device.
-- Nothing here is secret: public keys, certificates (signatures), keyed hashes of the
-- device fingerprint and of a link's source address, a SHA-256 of the one-time link
-- secret, client-encrypted names and provisioning blobs, and day-granularity dates.

-- The id the account's next device gets. A counter, not max()+1 of live rows: a removed
-- device's id is never handed out again.
ALTER TABLE identities ADD COLUMN next_device_id integer NOT NULL DEFAULT 1;

CREATE TABLE devices (
  user_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  device_id integer NOT NULL,
  -- Ed25519 device signing key (32 bytes): signs logins and is the MLS leaf signature key.
  signing_key bytea NOT NULL,
  -- Ed25519 signature by the identity key over
  -- "cyphr-device-v1" || 0x00 || cyphr_id || 0x00 || device_id (u32 BE) || signing_key.
  -- NULL only for device 1 of an account registered before devices existed: its signing
  -- key is the identity key itself.
  certificate bytea,
  -- HMAC-SHA-256(server secret, SHA-256(hardware id)); never the fingerprint itself.
  fingerprint_hmac bytea NOT NULL,
  -- Client-encrypted device name; opaque to the server.
  encrypted_name bytea NOT NULL DEFAULT '\x',
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Day of the last login or refresh on this device; nothing finer is kept.
  last_active_on date NOT NULL DEFAULT current_date,
  PRIMARY KEY (user_id, device_id),
  CONSTRAINT devices_user_signing_key_key UNIQUE (user_id, signing_key),
  CONSTRAINT devices_device_id_positive CHECK (device_id > 0),
  CONSTRAINT devices_signing_key_length CHECK (octet_length(signing_key) = 32),
  CONSTRAINT devices_certificate_length CHECK (certificate IS NULL OR octet_length(certificate) = 64),
  CONSTRAINT devices_fingerprint_length CHECK (octet_length(fingerprint_hmac) = 32),
  CONSTRAINT devices_encrypted_name_size CHECK (octet_length(encrypted_name) <= 256)
);

-- Accounts from the single-device era become device 1, signed for by the identity key.
INSERT INTO devices (user_id, device_id, signing_key, certificate, fingerprint_hmac, created_at)
SELECT id, 1, identity_public_key, NULL, device_fingerprint_hmac, created_at FROM identities;
UPDATE identities SET next_device_id = 2;
ALTER TABLE identities DROP COLUMN device_fingerprint_hmac;

-- Every session belongs to one device; removing the device deletes its sessions.
ALTER TABLE sessions ADD COLUMN device_id integer;
UPDATE sessions SET device_id = 1;
ALTER TABLE sessions ALTER COLUMN device_id SET NOT NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_device_fkey
  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE;
CREATE INDEX sessions_user_device_idx ON sessions (user_id, device_id);

-- Pending device links (BeginDeviceLink .. WaitDeviceLink delivery). A row lives at most
-- until expires_at (10 minutes) and is deleted once its approval is delivered.
CREATE TABLE device_links (
  id uuid PRIMARY KEY,
  -- SHA-256 of the one-time link secret (32 random bytes); the secret itself is never stored.
  secret_hash bytea NOT NULL,
  -- The new device's Ed25519 signing key and fingerprint HMAC, as given to BeginDeviceLink.
  signing_key bytea NOT NULL,
  fingerprint_hmac bytea NOT NULL,
  -- HMAC-SHA-256(server secret, source address): bounds pending links per source without storing the address.
  source_hmac bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  -- Set together by ApproveDeviceLink.
  user_id uuid REFERENCES identities (id) ON DELETE CASCADE,
  device_id integer,
  certificate bytea,
  -- Opaque blob, end-to-end encrypted by the approving device for the new one.
  provisioning_blob bytea,
  approved_at timestamptz,
  CONSTRAINT device_links_secret_hash_length CHECK (octet_length(secret_hash) = 32),
  CONSTRAINT device_links_signing_key_length CHECK (octet_length(signing_key) = 32),
  CONSTRAINT device_links_fingerprint_length CHECK (octet_length(fingerprint_hmac) = 32),
  CONSTRAINT device_links_source_length CHECK (octet_length(source_hmac) = 32),
  CONSTRAINT device_links_blob_size CHECK (provisioning_blob IS NULL OR octet_length(provisioning_blob) <= 65536),
  CONSTRAINT device_links_approval_complete CHECK (
    (approved_at IS NULL AND user_id IS NULL AND device_id IS NULL AND certificate IS NULL AND provisioning_blob IS NULL)
    OR (approved_at IS NOT NULL AND user_id IS NOT NULL AND device_id IS NOT NULL AND certificate IS NOT NULL
        AND provisioning_blob IS NOT NULL))
);

CREATE INDEX device_links_expires_at_idx ON device_links (expires_at);
CREATE INDEX device_links_source_idx ON device_links (source_hmac);
