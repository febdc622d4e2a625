-- The view detector's sessions (stages/view_detector), so a playback split by a restart of the
-- stat service still counts its one view: saved about once a second, read back at start,
-- deleted a ttl after their last event.
CREATE TABLE IF NOT EXISTS view_sessions (
  key text PRIMARY KEY,
  watched_s double precision NOT NULL,
  pos_s double precision NOT NULL,
  at_us bigint NOT NULL,
  playing boolean NOT NULL,
  have_pos boolean NOT NULL,
  counted boolean NOT NULL,
  touched_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS view_sessions_touched ON view_sessions (touched_at);
