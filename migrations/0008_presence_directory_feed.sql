-- Feed of the in-memory presence directory (src/realtime/presence-directory.ts). Every
-- instance keeps the set of users who are online somewhere and share their presence, so
-- that a stream's presence snapshot needs no per-peer scan of `presence`. Any change that
-- can alter that set sends the user's id on the `cyphr_presence` channel: a presence row
-- inserted or deleted (also by the cascades from `instances` and `identities`), or
-- share_presence changed. The payload is only an invalidation: instances re-read the named
-- users' state after the notice arrives, so neither the order of notices nor duplicates
-- can leave the directory wrong. NOTIFY is sent at commit; identical payloads within one
-- transaction are sent once.

CREATE FUNCTION cyphr_presence_directory_touch()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_TABLE_NAME = 'identities' THEN
    PERFORM pg_notify('cyphr_presence', NEW.id::text);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('cyphr_presence', OLD.user_id::text);
  ELSE
    PERFORM pg_notify('cyphr_presence', NEW.user_id::text);
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
