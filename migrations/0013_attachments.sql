-- Encrypted attachments (cyphr.attachments.v1). The server holds ciphertext only: the client
-- encrypted every byte with a key the server never sees. What is here: the declared size and
-- SHA-256 of each ciphertext, its chunk layout, its owner and its lifetime.
--
-- One row per upload; completing it gives the row its attachment id (random, never derived
-- from the content). The bytes live in the configured BlobStore under the row's upload id:
-- the table attachment_blob_parts below (ATTACHMENTS_STORE=postgres) or S3 objects.
CREATE TABLE attachments (
  -- Random 128 bits; the blob's key in the BlobStore.
  upload_id uuid PRIMARY KEY,
  -- Random 128 bits, set by CompleteUpload: the capability to read the attachment.
  attachment_id uuid,
  -- Deleting the account deletes its attachments (the trigger below queues their bytes).
  owner uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  size bigint NOT NULL,
  -- SHA-256 of the whole ciphertext, as declared by CreateUpload and checked by CompleteUpload.
  sha256 bytea NOT NULL,
  chunk_size integer NOT NULL,
  -- Lifetime granted at completion, in seconds.
  ttl_seconds integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  -- Unfinished: when the upload is removed; completed: when the attachment expires (unless it is
  -- its owner's avatar, identities.avatar_ref).
  expires_at timestamptz NOT NULL,
  CONSTRAINT attachments_attachment_id_key UNIQUE (attachment_id),
  CONSTRAINT attachments_size CHECK (size > 0),
  CONSTRAINT attachments_sha256_length CHECK (octet_length(sha256) = 32),
  CONSTRAINT attachments_chunk_size CHECK (chunk_size BETWEEN 1024 AND 1048576),
  CONSTRAINT attachments_ttl CHECK (ttl_seconds > 0),
  CONSTRAINT attachments_completed CHECK ((attachment_id IS NULL) = (completed_at IS NULL))
);

-- Quota sums and the owner's lists.
CREATE INDEX attachments_owner_idx ON attachments (owner);
-- The purge job's scan.
CREATE INDEX attachments_expires_at_idx ON attachments (expires_at);

-- The chunks an upload received: index = offset / chunk_size. A chunk is claimed (its SHA-256
-- recorded) before its bytes are written and marked stored after, so a second writer of the
-- same offset can only write the same bytes again, and a different chunk there is refused.
CREATE TABLE attachment_chunks (
  upload_id uuid NOT NULL REFERENCES attachments (upload_id) ON DELETE CASCADE,
  index integer NOT NULL,
  length integer NOT NULL,
  sha256 bytea NOT NULL,
  stored boolean NOT NULL DEFAULT false,
  PRIMARY KEY (upload_id, index),
  CONSTRAINT attachment_chunks_index CHECK (index >= 0),
  CONSTRAINT attachment_chunks_length CHECK (length BETWEEN 1 AND 1048576),
  CONSTRAINT attachment_chunks_sha256_length CHECK (octet_length(sha256) = 32)
);

-- Blobs whose metadata is gone (deleted, expired, abandoned, failed its digest check, or its
-- account deleted): the purge job deletes their bytes from the BlobStore, then the row.
CREATE SEQUENCE attachment_garbage_generation;
CREATE TABLE attachment_garbage (
  blob_key uuid PRIMARY KEY,
  -- New each time the blob is queued (again): the job forgets only the generation it purged, so
  -- a part written after a purge started is purged by the next run.
  generation bigint NOT NULL DEFAULT nextval('attachment_garbage_generation'),
  queued_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION attachments_queue_garbage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO attachment_garbage (blob_key) VALUES (OLD.upload_id)
  ON CONFLICT (blob_key) DO UPDATE SET generation = nextval('attachment_garbage_generation');
  RETURN OLD;
END;
$$;

-- Every way a row goes (DeleteAttachment, the purge job, ON DELETE CASCADE from identities)
-- queues its bytes, in the same transaction.
CREATE TRIGGER attachments_queue_garbage AFTER DELETE ON attachments
  FOR EACH ROW EXECUTE FUNCTION attachments_queue_garbage();

-- The PostgreSQL BlobStore: one row per chunk (part) of a blob, read one part at a time.
CREATE TABLE attachment_blob_parts (
  blob_key uuid NOT NULL,
  part integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (blob_key, part),
  CONSTRAINT attachment_blob_parts_size CHECK (octet_length(data) BETWEEN 1 AND 1048576)
);
-- Parts are ciphertext: compressing them gains nothing.
ALTER TABLE attachment_blob_parts ALTER COLUMN data SET STORAGE EXTERNAL;
