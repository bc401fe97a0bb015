-- Group commit in one round trip: a batch of sends is committed by one call of this
-- function (one statement, so one implicit transaction) instead of a dozen statements.
-- Its statements are planned once per connection (PL/pgSQL caches their plans).
--
-- Input: parallel arrays, one element per send, in arrival order. `p_ids` are message ids
-- chosen by the caller; `p_expires_in` 0 means "the chat's timer"; empty bytea means none.
--
-- Output: one row per send, by 1-based ordinal:
--   outcome 0  stored now (id, seq, times of the new row)
--   outcome 1  already stored under the same (chat, sender, client_message_id), earlier or
--              by an earlier copy in this batch: the stored row's id, seq and times
--   outcome 2  no such chat for this sender (no membership row)
--   outcome 3  the sender has left or was removed from the group
--
-- Every chat of the batch is locked (in id order, like every other writer of chats) before
-- membership and idempotency are checked, so a concurrent removal or a retry racing on
-- another instance is seen, and seqs are reserved without gaps.
--
-- Each stored message yields a durable event (kind 1, message_new) for every current
-- member of its chat: cursors are allocated per recipient in event_counters (locked in
-- user-id order), one events row per recipient, and a NOTIFY on cyphr_events per message
-- and up to 100 recipients (well under the 8,000-byte NOTIFY limit), in send order:
--   {"t":"d","k":1,"c":chat,"s":seq,"d":null,"at":created ms,"m":message id,
--    "ex":expires ms or null,"u":[[user,cursor],...]}
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
  p_expires_in int4[]
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
  v_payloads text[];
  v_events bigint;
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
    -- One event per stored message and current member, cursors in send order per user.
    WITH stored_msg AS (
      SELECT s.i, p_chat_ids[s.i] AS chat_id, p_ids[s.i] AS message_id, s.seq, s.created_at, s.expires_at
      FROM unnest(v_ins_ord, v_ins_seq, v_ins_created, v_ins_expires) AS s (i, seq, created_at, expires_at)
    ),
    ev AS (
      SELECT stored_msg.*, mem.user_id, row_number() OVER (PARTITION BY mem.user_id ORDER BY stored_msg.i) AS k
      FROM stored_msg JOIN chat_members mem ON mem.chat_id = stored_msg.chat_id AND mem.left_seq IS NULL
    ),
    counted AS (
      INSERT INTO event_counters AS ec (user_id, last_cursor)
      SELECT ev.user_id, count(*) FROM ev GROUP BY ev.user_id ORDER BY ev.user_id
      ON CONFLICT (user_id) DO UPDATE SET last_cursor = ec.last_cursor + excluded.last_cursor
      RETURNING ec.user_id, ec.last_cursor
    ),
    numbered AS (
      SELECT ev.*, counted.last_cursor - count(*) OVER (PARTITION BY ev.user_id) + ev.k AS cursor
      FROM ev JOIN counted ON counted.user_id = ev.user_id
    ),
    stored AS (
      INSERT INTO events (user_id, cursor, kind, chat_id, seq, data)
      SELECT numbered.user_id, numbered.cursor, 1, numbered.chat_id, numbered.seq, NULL FROM numbered
      RETURNING 1
    ),
    pieces AS (
      SELECT numbered.*, (row_number() OVER (PARTITION BY numbered.i ORDER BY numbered.user_id) - 1) / 100 AS piece
      FROM numbered
    )
    SELECT array_agg(p.payload ORDER BY p.i, p.piece), (SELECT count(*) FROM stored) INTO v_payloads, v_events
    FROM (
      SELECT pieces.i, pieces.piece, json_build_object(
        't', 'd', 'k', 1, 'c', pieces.chat_id, 's', pieces.seq, 'd', NULL,
        'at', floor(extract(epoch FROM pieces.created_at) * 1000)::bigint,
        'm', pieces.message_id,
        'ex', floor(extract(epoch FROM pieces.expires_at) * 1000)::bigint,
        'u', json_agg(json_build_array(pieces.user_id, pieces.cursor) ORDER BY pieces.user_id))::text AS payload
      FROM pieces
      GROUP BY pieces.i, pieces.piece, pieces.chat_id, pieces.seq, pieces.message_id, pieces.created_at, pieces.expires_at
    ) p;

    IF v_payloads IS NOT NULL THEN
      FOR j IN 1 .. cardinality(v_payloads) LOOP
        PERFORM pg_notify('cyphr_events', v_payloads[j]);
      END LOOP;
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
