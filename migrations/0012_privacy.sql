-- Privacy by default (cyphr.privacy.v1): settings the server enforces, who each user
-- accepted, blocks, message requests, and the shared rate-limit buckets. No plaintext,
-- no address: a bucket is named by a keyed hash only.

-- Settings. Secure defaults for new accounts: not discoverable; presence, read receipts
-- and typing go to accepted contacts only; only contacts may add the user to groups.
ALTER TABLE identities ALTER COLUMN discoverable SET DEFAULT false;
ALTER TABLE identities
  -- Send read receipts to accepted contacts (delivery receipts always go to contacts).
  ADD COLUMN read_receipts boolean NOT NULL DEFAULT true,
  -- Send typing indicators to accepted contacts.
  ADD COLUMN typing_indicators boolean NOT NULL DEFAULT true,
  -- Who may add the user to a group: 1 = everyone, 2 = contacts, 3 = nobody (GroupAddPolicy).
  ADD COLUMN group_adds smallint NOT NULL DEFAULT 2,
  -- When the user last chose a privacy setting; NULL: never (defaults may move them).
  ADD COLUMN privacy_chosen_at timestamptz;
ALTER TABLE identities ADD CONSTRAINT identities_group_adds_known CHECK (group_adds IN (1, 2, 3));

-- The migration rule: accounts that never chose move to the new defaults. Before this
-- migration the only way to choose was UpdateProfile, which moves updated_at; an account
-- whose profile was never updated never chose. One that was may have: it keeps its values.
UPDATE identities SET discoverable = false WHERE updated_at = created_at;
UPDATE identities SET privacy_chosen_at = updated_at WHERE updated_at > created_at;

-- user_id accepted contact_id: by writing to them first, replying, AcceptChat, or adding
-- them to a group. Receipts, typing and presence of user_id reach contact_id only then.
CREATE TABLE contacts (
  user_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  accepted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, contact_id),
  CONSTRAINT contacts_not_self CHECK (user_id <> contact_id)
);
CREATE INDEX contacts_contact_id_idx ON contacts (contact_id);

-- blocker_id blocked blocked_id: nothing of blocked_id reaches blocker_id.
CREATE TABLE blocks (
  blocker_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  blocked_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  blocked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (blocker_id, blocked_id),
  CONSTRAINT blocks_not_self CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked_id_idx ON blocks (blocked_id);

-- A chat that is a request for user_id (a first message, or a group add, from someone
-- user_id had not accepted). Deleted when user_id accepts (AcceptChat, replying) or
-- declines (DeclineChat, blocking the requester).
CREATE TABLE chat_requests (
  chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  -- Who wrote first or added user_id; NULL once that account is gone.
  requester_id uuid REFERENCES identities (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Set by DeclineChat: the chat is gone for user_id, and nothing more of it reaches them
  -- (for the requester they simply never read). Replying later in the chat reopens it.
  declined_at timestamptz,
  PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_requests_user_id_idx ON chat_requests (user_id);

-- Conversations from before requests existed: whoever wrote in a direct chat accepted
-- the other member; group memberships stay as they are (no request).
INSERT INTO contacts (user_id, contact_id)
SELECT DISTINCT m.sender_id, CASE WHEN c.direct_user_low = m.sender_id THEN c.direct_user_high ELSE c.direct_user_low END
FROM messages m JOIN chats c ON c.id = m.chat_id AND c.kind = 1
WHERE m.sender_id IN (c.direct_user_low, c.direct_user_high)
  AND EXISTS (SELECT 1 FROM identities i WHERE i.id = CASE WHEN c.direct_user_low = m.sender_id THEN c.direct_user_high ELSE c.direct_user_low END)
ON CONFLICT DO NOTHING;

-- Token buckets of the rate limits that hold across instances (src/privacy/limits/).
CREATE TABLE rate_limit_buckets (
  -- HMAC-SHA-256(server fingerprint secret, limiter name || 0x00 || subject): the subject
  -- (a user id, a Cyphr ID, a source address) is never stored.
  key bytea PRIMARY KEY,
  -- Tokens left at updated_at (fractional: tokens refill continuously).
  tokens double precision NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT rate_limit_buckets_key_length CHECK (octet_length(key) = 32)
);
CREATE INDEX rate_limit_buckets_updated_at_idx ON rate_limit_buckets (updated_at);

-- cyphr_send_batch (migration 0007) with one change: a stored message's message_new event
-- goes to the chat's current members except those who blocked its sender or declined the
-- chat. The message is stored as before (the sender's own history has it; for the sender
-- a blocker looks like a recipient who never reads).
CREATE OR REPLACE FUNCTION cyphr_send_batch(
  p_chat_ids uuid[],
  p_sender_ids uuid[],
  p_client_ids uuid[],
  p_ids uuid[],
  p_types int2[],
  p_kem bytea[],
  p_ciphertext bytea[],
  p_nonce bytea[],
  p_tag bytea[],
  p_header bytea[],
  p_expires_in int4[],
  p_max_recipients int4
)
RETURNS TABLE (ord int, outcome int2, id uuid, seq bigint, created_at timestamptz, expires_at timestamptz)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
  v_fresh int[];
  v_ins_ord int[];
  v_ins_seq bigint[];
  v_ins_created timestamptz[];
  v_ins_expires timestamptz[];
  v_rec_events int4[];
  v_rec_users uuid[];
BEGIN
  PERFORM 1 FROM chats c WHERE c.id = ANY (p_chat_ids) ORDER BY c.id FOR UPDATE;

  -- Sends to store: the sender is an active member, the key is not stored yet, and this
  -- is the first copy of the key in the batch.
  SELECT coalesce(array_agg(r.i ORDER BY r.i), '{}') INTO v_fresh
  FROM (
    SELECT q.*, row_number() OVER (PARTITION BY q.chat_id, q.sender_id, q.client_id ORDER BY q.i) AS copy
    FROM unnest(p_chat_ids, p_sender_ids, p_client_ids) WITH ORDINALITY AS q (chat_id, sender_id, client_id, i)
  ) r
  JOIN chat_members m ON m.chat_id = r.chat_id AND m.user_id = r.sender_id AND m.left_seq IS NULL
  WHERE r.copy = 1
    AND NOT EXISTS (
      SELECT 1 FROM messages x
      WHERE x.chat_id = r.chat_id AND x.sender_id = r.sender_id AND x.client_message_id = r.client_id);

  IF cardinality(v_fresh) > 0 THEN
    WITH fresh AS (
      SELECT f.i, p_chat_ids[f.i] AS chat_id, row_number() OVER (PARTITION BY p_chat_ids[f.i] ORDER BY f.i) AS k
      FROM unnest(v_fresh) AS f (i)
    ),
    reserved AS (
      UPDATE chats c SET last_seq = c.last_seq + n.count, last_activity_at = now()
      FROM (SELECT fresh.chat_id, count(*) AS count FROM fresh GROUP BY fresh.chat_id) n
      WHERE c.id = n.chat_id
      RETURNING c.id, c.last_seq - n.count AS base_seq, c.timer_seconds
    ),
    inserted AS (
      INSERT INTO messages AS m (chat_id, seq, id, sender_id, client_message_id, message_type,
                                 kem_ciphertext, ciphertext, nonce, tag, header, expires_at)
      SELECT fresh.chat_id, reserved.base_seq + fresh.k, p_ids[fresh.i], p_sender_ids[fresh.i], p_client_ids[fresh.i],
             p_types[fresh.i], nullif(p_kem[fresh.i], ''::bytea), p_ciphertext[fresh.i], nullif(p_nonce[fresh.i], ''::bytea),
             nullif(p_tag[fresh.i], ''::bytea), nullif(p_header[fresh.i], ''::bytea),
             now() + make_interval(secs => coalesce(nullif(p_expires_in[fresh.i], 0), reserved.timer_seconds))
      FROM fresh JOIN reserved ON reserved.id = fresh.chat_id
      ORDER BY fresh.i
      ON CONFLICT (chat_id, sender_id, client_message_id) DO NOTHING
      RETURNING m.id, m.chat_id, m.seq, m.created_at, m.expires_at
    )
    SELECT array_agg(ins.i ORDER BY ins.i), array_agg(ins.seq ORDER BY ins.i),
           array_agg(ins.created_at ORDER BY ins.i), array_agg(ins.expires_at ORDER BY ins.i)
      INTO v_ins_ord, v_ins_seq, v_ins_created, v_ins_expires
    FROM (SELECT array_position(p_ids, inserted.id) AS i, inserted.* FROM inserted) ins;
  END IF;

  IF v_ins_ord IS NOT NULL THEN
    -- Event e is the e-th stored message; its recipients are its chat's current members.
    SELECT array_agg(s.e ORDER BY s.e, mem.user_id), array_agg(mem.user_id ORDER BY s.e, mem.user_id)
      INTO v_rec_events, v_rec_users
    FROM unnest(v_ins_ord) WITH ORDINALITY AS s (i, e)
    JOIN chat_members mem ON mem.chat_id = p_chat_ids[s.i] AND mem.left_seq IS NULL
    WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = mem.user_id AND b.blocked_id = p_sender_ids[s.i])
      AND NOT EXISTS (SELECT 1 FROM chat_requests q WHERE q.chat_id = p_chat_ids[s.i] AND q.user_id = mem.user_id AND q.declined_at IS NOT NULL);

    PERFORM cyphr_record_events(
      array_fill(1::int2, ARRAY[cardinality(v_ins_ord)]),
      ARRAY(SELECT p_chat_ids[s.i] FROM unnest(v_ins_ord) WITH ORDINALITY AS s (i, e) ORDER BY s.e),
      v_ins_seq,
      '{}'::jsonb[],
      ARRAY(SELECT p_ids[s.i] FROM unnest(v_ins_ord) WITH ORDINALITY AS s (i, e) ORDER BY s.e),
      v_ins_expires,
      coalesce(v_rec_events, '{}'),
      coalesce(v_rec_users, '{}'),
      p_max_recipients);
  END IF;

  -- The common case, every send stored now: the answer is what the insert returned.
  IF coalesce(cardinality(v_ins_ord), 0) = cardinality(p_ids) THEN
    RETURN QUERY
    SELECT s.i, 0::int2, p_ids[s.i], s.seq, s.created_at, s.expires_at
    FROM unnest(v_ins_ord, v_ins_seq, v_ins_created, v_ins_expires) AS s (i, seq, created_at, expires_at)
    ORDER BY s.i;
    RETURN;
  END IF;

  -- Otherwise: stored now from the insert, else by membership and the row stored by key.
  RETURN QUERY
  SELECT r.i::int,
         (CASE WHEN s.i IS NOT NULL THEN 0 WHEN mem.user_id IS NULL THEN 2 WHEN mem.left_seq IS NOT NULL THEN 3 ELSE 1 END)::int2,
         coalesce(p_ids[s.i], x.id), coalesce(s.seq, x.seq), coalesce(s.created_at, x.created_at),
         CASE WHEN s.i IS NOT NULL THEN s.expires_at ELSE x.expires_at END
  FROM unnest(p_chat_ids, p_sender_ids, p_client_ids) WITH ORDINALITY AS r (chat_id, sender_id, client_id, i)
  LEFT JOIN unnest(v_ins_ord, v_ins_seq, v_ins_created, v_ins_expires) AS s (i, seq, created_at, expires_at) ON s.i = r.i
  LEFT JOIN chat_members mem ON mem.chat_id = r.chat_id AND mem.user_id = r.sender_id
  LEFT JOIN messages x ON x.chat_id = r.chat_id AND x.sender_id = r.sender_id AND x.client_message_id = r.client_id
  ORDER BY r.i;
END
$$;
