-- One writer of the event log. Before this migration the TypeScript recordEvents and
-- cyphr_send_batch each allocated cursors, inserted events rows and built NOTIFYs, with
-- different splitting rules; now both call cyphr_record_events, so a message's events and
-- notices are the same rows and payloads whichever path wrote them.
--
-- cyphr_record_events records durable events inside the caller's transaction:
--   events: parallel arrays, one element per event, in order. `p_seqs` and `p_data` may
--     hold NULLs; `p_message_ids` / `p_expires_at` name the message of a message_new
--     written by a send (arrays shorter than the events, or empty, mean none).
--   recipients: parallel arrays, one element per (event, recipient): the event's 1-based
--     ordinal and the user.
--   p_max_recipients: recipients per NOTIFY (src/delivery/notice.ts MAX_RECIPIENTS_PER_NOTICE).
-- Each recipient's next cursors are allocated in event_counters (rows locked in user-id
-- order, so concurrent writers cannot deadlock and each user's cursors commit in order,
-- without gaps), one events row per recipient, and NOTIFYs on cyphr_events after commit,
-- in event order, one per event and up to p_max_recipients recipients (by user id):
--   {"t":"d","k":kind,"c":chat,"s":seq or null,"d":data or null,"at":now() in ms,
--    "m":message id or null,"ex":expires ms or null,"u":[[user,cursor],...]}
-- The compact keys are decoded in one place: src/delivery/notice.ts.
CREATE FUNCTION cyphr_record_events(
  p_kinds int2[],
  p_chat_ids uuid[],
  p_seqs int8[],
  p_data jsonb[],
  p_message_ids uuid[],
  p_expires_at timestamptz[],
  p_recipient_events int4[],
  p_recipient_users uuid[],
  p_max_recipients int4
)
RETURNS void
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
  v_payloads text[];
BEGIN
  IF p_max_recipients IS NULL OR p_max_recipients < 1 THEN
    RAISE EXCEPTION 'cyphr_record_events: p_max_recipients must be at least 1';
  END IF;
  WITH ev AS (
    SELECT r.e, r.user_id, row_number() OVER (PARTITION BY r.user_id ORDER BY r.e, r.j) AS k
    FROM unnest(p_recipient_events, p_recipient_users) WITH ORDINALITY AS r (e, user_id, j)
  ),
  counted AS (
    INSERT INTO event_counters AS ec (user_id, last_cursor)
    SELECT ev.user_id, count(*) FROM ev GROUP BY ev.user_id ORDER BY ev.user_id
    ON CONFLICT (user_id) DO UPDATE SET last_cursor = ec.last_cursor + excluded.last_cursor
    RETURNING ec.user_id, ec.last_cursor
  ),
  numbered AS (
    SELECT ev.e, ev.user_id, counted.last_cursor - count(*) OVER (PARTITION BY ev.user_id) + ev.k AS cursor
    FROM ev JOIN counted ON counted.user_id = ev.user_id
  ),
  stored AS (
    INSERT INTO events (user_id, cursor, kind, chat_id, seq, data)
    SELECT numbered.user_id, numbered.cursor, p_kinds[numbered.e], p_chat_ids[numbered.e], p_seqs[numbered.e], p_data[numbered.e]
    FROM numbered
    RETURNING 1
  ),
  pieces AS (
    SELECT numbered.*, (row_number() OVER (PARTITION BY numbered.e ORDER BY numbered.user_id) - 1) / p_max_recipients AS piece
    FROM numbered
  )
  SELECT array_agg(p.payload ORDER BY p.e, p.piece) INTO v_payloads
  FROM (
    SELECT pieces.e, pieces.piece, json_build_object(
      't', 'd', 'k', p_kinds[pieces.e], 'c', p_chat_ids[pieces.e], 's', p_seqs[pieces.e], 'd', p_data[pieces.e],
      'at', floor(extract(epoch FROM now()) * 1000)::bigint,
      'm', p_message_ids[pieces.e],
      'ex', floor(extract(epoch FROM p_expires_at[pieces.e]) * 1000)::bigint,
      'u', json_agg(json_build_array(pieces.user_id, pieces.cursor) ORDER BY pieces.user_id))::text AS payload
    FROM pieces
    GROUP BY pieces.e, pieces.piece
  ) p;

  IF v_payloads IS NOT NULL THEN
    FOR j IN 1 .. cardinality(v_payloads) LOOP
      PERFORM pg_notify('cyphr_events', v_payloads[j]);
    END LOOP;
  END IF;
END
$$;

-- cyphr_send_batch (migrations/0004_send_batch.sql), unchanged in its checks, inserts and
-- answer, with its events written by cyphr_record_events: each stored message yields a
-- message_new event (kind 1) for every current member of its chat, in send order, and
-- p_max_recipients is passed through.
DROP FUNCTION cyphr_send_batch(uuid[], uuid[], uuid[], uuid[], int2[], bytea[], bytea[], bytea[], bytea[], bytea[], int4[]);

CREATE FUNCTION cyphr_send_batch(
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
    JOIN chat_members mem ON mem.chat_id = p_chat_ids[s.i] AND mem.left_seq IS NULL;

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
