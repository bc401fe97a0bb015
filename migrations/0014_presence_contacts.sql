-- Presence for accepted contacts only (issue 15). Migration 0005 announced a user's
-- presence transitions to every chat peer; from here on a user's presence reaches a peer
-- only when the user accepted that peer (contacts: wrote to them, replied, AcceptChat,
-- added them to a group) and neither blocked the other, and still only while the user
-- shares presence (identities.share_presence, checked by the callers as before). A
-- requester therefore sees nothing of the recipient until accepted, and a blocked user
-- sees the blocker exactly as someone offline.

-- Who may see `p_user`'s presence: users sharing an active chat with them whom `p_user`
-- accepted, with no block between the two either way.
CREATE FUNCTION cyphr_presence_audience(p_user uuid)
RETURNS uuid[]
LANGUAGE sql
STABLE
AS $$
  SELECT coalesce(array_agg(DISTINCT other.user_id), '{}')
  FROM chat_members mine
  JOIN chat_members other ON other.chat_id = mine.chat_id AND other.left_seq IS NULL AND other.user_id <> mine.user_id
  JOIN contacts c ON c.user_id = p_user AND c.contact_id = other.user_id
  WHERE mine.user_id = p_user AND mine.left_seq IS NULL
    AND NOT EXISTS (
      SELECT 1 FROM blocks b
      WHERE (b.blocker_id = p_user AND b.blocked_id = other.user_id) OR (b.blocker_id = other.user_id AND b.blocked_id = p_user))
$$;

-- Whose presence `p_viewer` may see (when they share it): the users sharing an active chat
-- with `p_viewer` who accepted `p_viewer`, with no block between the two either way. The
-- mirror of cyphr_presence_audience, for a stream's snapshot: one index scan of
-- chat_members and a primary-key probe of contacts and blocks per peer.
CREATE FUNCTION cyphr_presence_sources(p_viewer uuid)
RETURNS uuid[]
LANGUAGE sql
STABLE
AS $$
  SELECT coalesce(array_agg(DISTINCT other.user_id), '{}')
  FROM chat_members mine
  JOIN chat_members other ON other.chat_id = mine.chat_id AND other.left_seq IS NULL AND other.user_id <> mine.user_id
  JOIN contacts c ON c.user_id = other.user_id AND c.contact_id = p_viewer
  WHERE mine.user_id = p_viewer AND mine.left_seq IS NULL
    AND NOT EXISTS (
      SELECT 1 FROM blocks b
      WHERE (b.blocker_id = p_viewer AND b.blocked_id = other.user_id) OR (b.blocker_id = other.user_id AND b.blocked_id = p_viewer))
$$;

-- The transitions of migration 0005, announced to cyphr_presence_audience instead of every
-- chat peer; otherwise unchanged.
CREATE OR REPLACE FUNCTION cyphr_presence_open(p_user uuid, p_instance uuid)
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
      peers := cyphr_presence_audience(p_user);
    END IF;
  END IF;
  RETURN NEXT;
END;
$$;

CREATE OR REPLACE FUNCTION cyphr_presence_close(p_user uuid, p_instance uuid)
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
      peers := cyphr_presence_audience(p_user);
    END IF;
  END IF;
  RETURN NEXT;
END;
$$;
