-- Presence transitions in one statement each. A stream opening or closing on an instance
-- used to take two transactions and up to a dozen statements (lock, count, insert or
-- delete, count again, last_seen, subject, peers); under reconnect storms those were a
-- large share of all statements. Each function runs as one statement (one implicit
-- transaction), so its per-user advisory lock, which serializes transitions of the user
-- across instances, is held until it returns; PL/pgSQL caches the plans per connection.
--
-- Both answer whether the transition changed what the user's chat peers should see, and
-- then whom to tell: `peers` is NULL when nothing is to be announced (no transition, or
-- the user does not share presence), else the users sharing an active chat with them.

-- Users who share an active chat with `p_user` (both current members).
CREATE FUNCTION cyphr_chat_peers(p_user uuid)
RETURNS uuid[]
LANGUAGE sql
STABLE
AS $$
  SELECT coalesce(array_agg(DISTINCT other.user_id), '{}')
  FROM chat_members mine
  JOIN chat_members other ON other.chat_id = mine.chat_id AND other.left_seq IS NULL AND other.user_id <> mine.user_id
  WHERE mine.user_id = p_user AND mine.left_seq IS NULL
$$;

-- The user's stream opened on `p_instance` (registered in instances).
-- came_online: the user had no presence row on any instance before.
CREATE FUNCTION cyphr_presence_open(p_user uuid, p_instance uuid)
RETURNS TABLE (came_online boolean, cyphr_id text, peers uuid[])
LANGUAGE plpgsql
AS $$
DECLARE
  v_share boolean;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(p_user::text));
  came_online := NOT EXISTS (SELECT 1 FROM presence p WHERE p.user_id = p_user);
  INSERT INTO presence (user_id, instance_id) VALUES (p_user, p_instance) ON CONFLICT DO NOTHING;
  IF came_online THEN
    SELECT i.cyphr_id, i.share_presence INTO cyphr_id, v_share FROM identities i WHERE i.id = p_user;
    IF v_share THEN
      peers := cyphr_chat_peers(p_user);
    END IF;
  END IF;
  RETURN NEXT;
END;
$$;

-- The user's last stream on `p_instance` closed (NULL: the rows went with a stopped or
-- dead instance, and only the check remains). last_seen: set, and stored, when no instance holds a
-- presence row of the user any more; NULL while they are still online elsewhere.
CREATE FUNCTION cyphr_presence_close(p_user uuid, p_instance uuid)
RETURNS TABLE (last_seen timestamptz, cyphr_id text, peers uuid[])
LANGUAGE plpgsql
AS $$
DECLARE
  v_share boolean;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(p_user::text));
  DELETE FROM presence p WHERE p.user_id = p_user AND p.instance_id = p_instance;
  IF NOT EXISTS (SELECT 1 FROM presence p WHERE p.user_id = p_user) THEN
    UPDATE identities i SET last_seen_at = now() WHERE i.id = p_user
    RETURNING i.last_seen_at, i.cyphr_id, i.share_presence INTO last_seen, cyphr_id, v_share;
    IF v_share THEN
      peers := cyphr_chat_peers(p_user);
    END IF;
  END IF;
  RETURN NEXT;
END;
$$;
