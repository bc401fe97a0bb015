-- Blocks in every read path (issue 15). Migration 0012 kept a blocked sender's messages off
-- the blocker's live stream (no message_new event); they still showed in the blocker's
-- GetHistory, unread counts and ListChats. From here on a message is marked, when it is
-- stored, as hidden from each current member who blocked its sender at that moment, and
-- every read path of that member skips it: history and GetMessage, unread counts, the
-- chat's last seq and activity in ListChats, edit and delete events; replay on resume
-- reads the events, which never had it. The mark stays after an unblock: what arrived
-- during the block never reaches the blocker. For the sender nothing changes: the message
-- is stored, answered and counted as for a recipient who never reads (the blocker never
-- counts as having received or read it).

-- Messages hidden from one member: the message's key and the member.
CREATE TABLE hidden_messages (
  chat_id uuid NOT NULL,
  seq bigint NOT NULL,
  -- The member who had blocked the sender when the message was stored.
  user_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, chat_id, seq),
  FOREIGN KEY (chat_id, seq) REFERENCES messages (chat_id, seq) ON DELETE CASCADE
);
-- The cascade from a message purged or deleted with its chat.
CREATE INDEX hidden_messages_message_idx ON hidden_messages (chat_id, seq);

-- cyphr_send_batch (migration 0012) with one change: a stored message is also marked hidden
-- from each current member who blocked its sender (the same members 0012 gives no event).
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

    -- Each member who blocked the sender has the message hidden (only when any sender of
    -- the batch is blocked by anyone: one probe of blocks_blocked_id_idx otherwise).
    IF EXISTS (SELECT 1 FROM blocks b WHERE b.blocked_id = ANY (p_sender_ids)) THEN
      INSERT INTO hidden_messages (chat_id, seq, user_id)
      SELECT p_chat_ids[s.i], s.seq, mem.user_id
      FROM unnest(v_ins_ord, v_ins_seq) AS s (i, seq)
      JOIN chat_members mem ON mem.chat_id = p_chat_ids[s.i] AND mem.left_seq IS NULL
      JOIN blocks b ON b.blocker_id = mem.user_id AND b.blocked_id = p_sender_ids[s.i]
      ON CONFLICT DO NOTHING;
    END IF;
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
