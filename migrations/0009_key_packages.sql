-- MLS key packages (RFC 9420 §10): public KeyPackage messages that each device uploads
-- for others to add it to MLS groups. Nothing here is secret: the private keys of a
-- package stay on its device.
--
-- A one-time package is handed out once: claiming it sets claimed_at and drops its bytes
-- in the same statement that reads them. The row itself stays (without the package) until
-- the sweeper removes it: it records which device a KeyPackageRef belongs to, so that the
-- Welcome naming that ref reaches that device, and its ref keeps a used package from being
-- uploaded again. A last-resort package (one per device and suite) is never used up.
CREATE TABLE key_packages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL,
  device_id integer NOT NULL,
  -- RFC 9420 ciphersuite code point (82 = MLS_256_MLKEM1024_CHACHA20POLY1305_SHA512_Ed25519, ...).
  ciphersuite integer NOT NULL,
  -- KeyPackageRef: the suite's RefHash("MLS 1.0 KeyPackage Reference", KeyPackage).
  ref bytea NOT NULL,
  -- The MLSMessage as uploaded; NULL once claimed.
  key_package bytea,
  last_resort boolean NOT NULL,
  -- End of the package's lifetime, seconds since the Unix epoch (MLS lifetimes are uint64).
  not_after numeric(20, 0) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  claimed_at timestamptz,
  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE,
  CONSTRAINT key_packages_ref_key UNIQUE (ref),
  CONSTRAINT key_packages_ref_length CHECK (octet_length(ref) BETWEEN 32 AND 64),
  CONSTRAINT key_packages_size CHECK (key_package IS NULL OR octet_length(key_package) <= 16384),
  CONSTRAINT key_packages_claimed CHECK ((claimed_at IS NULL) = (key_package IS NOT NULL) OR last_resort),
  CONSTRAINT key_packages_last_resort_kept CHECK (NOT last_resort OR key_package IS NOT NULL)
);

-- The next one-time package of a device and suite, oldest first.
CREATE INDEX key_packages_available_idx ON key_packages (user_id, device_id, ciphersuite, id)
  WHERE claimed_at IS NULL AND NOT last_resort;

-- One last-resort package per device and suite.
CREATE UNIQUE INDEX key_packages_last_resort_idx ON key_packages (user_id, device_id, ciphersuite)
  WHERE last_resort;

-- The sweeper's scans: claimed rows by age, packages by expiry.
CREATE INDEX key_packages_claimed_at_idx ON key_packages (claimed_at) WHERE claimed_at IS NOT NULL;
CREATE INDEX key_packages_not_after_idx ON key_packages (not_after);
