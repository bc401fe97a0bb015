-- Durable realtime events, presence and call state.

-- Per-user event cursor. The row lock taken while allocating makes cursors dense and
-- committed in order for each user, which is what lets streams detect and fill gaps.
CREATE TABLE event_counters (
  user_id uuid PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
  last_cursor bigint NOT NULL DEFAULT 0
);

-- One row per recipient of a durable event. Payloads are references (chat, seq) and
-- small metadata; message content stays in messages.
CREATE TABLE events (
  user_id uuid NOT NULL,
  cursor bigint NOT NULL,
  -- cyphr.realtime.v1 durable event kind (see src/realtime/event-kinds.ts)
  kind smallint NOT NULL,
  chat_id uuid,
  seq bigint,
  data jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, cursor)
);

CREATE INDEX events_created_at_idx ON events (created_at);

-- Where a session (device) resumes when it connects without a cursor: its last ack.
ALTER TABLE sessions ADD COLUMN acked_cursor bigint NOT NULL DEFAULT 0;

-- Last time the user's last stream closed (presence "offline, last seen").
ALTER TABLE identities ADD COLUMN last_seen_at timestamptz;

-- Which instances hold open streams of which users; a user is online while any row
-- exists. Instances refresh heartbeat_at; rows of instances that stopped are removed.
CREATE TABLE instances (
  id uuid PRIMARY KEY,
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE presence (
  user_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  instance_id uuid NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
  since timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, instance_id)
);

-- WebRTC call state. SDP and ICE never touch the database.
CREATE TABLE calls (
  id uuid PRIMARY KEY,
  chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
  caller_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  caller_session_id uuid NOT NULL,
  -- 1 = ringing, 2 = accepted, 3 = ended
  state smallint NOT NULL CHECK (state IN (1, 2, 3)),
  video boolean NOT NULL DEFAULT false,
  answered_by uuid,
  answered_session_id uuid,
  -- 'completed' | 'missed' | 'rejected' | 'busy' | 'cancelled' | 'failed'
  end_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  ring_deadline timestamptz NOT NULL,
  answered_at timestamptz,
  ended_at timestamptz
);

CREATE INDEX calls_live_idx ON calls (state, ring_deadline) WHERE state IN (1, 2);

-- Who takes part in a call (every member of the chat is rung); used for busy checks.
CREATE TABLE call_participants (
  call_id uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
  -- true while the call is not ended
  live boolean NOT NULL DEFAULT true,
  PRIMARY KEY (call_id, user_id)
);

CREATE INDEX call_participants_live_user_idx ON call_participants (user_id) WHERE live;
