-- Feed of the in-memory presence directory (src/realtime/presence-directory.ts). Every
-- instance keeps the set of users who are online somewhere and share their presence, so
-- that a stream's presence snapshot needs no per-peer scan of `presence`. Any change that
-- can alter whether a user is visibly online sends the user's new state on the
-- `cyphr_presence` channel: a presence row inserted or deleted (also by the cascades from
-- `instances` and `identities`), or share_presence changed.
--
-- Payload: "<user id> <cyphr id>" when the user is now online on some instance and shares
-- presence, "<user id>" when not. Each notice is computed holding the user's identities
-- row lock (taken here, or already held by the UPDATE of share_presence), so the writers
-- of one user are serialized, each sees the previous one's committed rows, and NOTIFY
-- delivers in commit order: the last notice received about a user is their current state.

CREATE FUNCTION cyphr_presence_directory_notify(p_user uuid)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  v_cyphr text;
  v_share boolean;
BEGIN
  SELECT i.cyphr_id, i.share_presence INTO v_cyphr, v_share FROM identities i WHERE i.id = p_user FOR NO KEY UPDATE;
  -- A new statement, so a new snapshot: it sees every earlier writer of this user, committed.
  IF v_share AND EXISTS (SELECT 1 FROM presence p WHERE p.user_id = p_user) THEN
    PERFORM pg_notify('cyphr_presence', p_user::text || ' ' || v_cyphr);
  ELSE
    PERFORM pg_notify('cyphr_presence', p_user::text);
  END IF;
END;
$$;

CREATE FUNCTION cyphr_presence_directory_touch()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_TABLE_NAME = 'identities' THEN
    PERFORM cyphr_presence_directory_notify(NEW.id);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM cyphr_presence_directory_notify(OLD.user_id);
  ELSE
    PERFORM cyphr_presence_directory_notify(NEW.user_id);
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER presence_directory_rows
AFTER INSERT OR DELETE ON presence
FOR EACH ROW EXECUTE FUNCTION cyphr_presence_directory_touch();

CREATE TRIGGER presence_directory_sharing
AFTER UPDATE OF share_presence ON identities
FOR EACH ROW WHEN (OLD.share_presence IS DISTINCT FROM NEW.share_presence)
EXECUTE FUNCTION cyphr_presence_directory_touch();
