-- The UGC tables: reactions, favorites, comments, comment_votes, watch_progress. Every query
-- of sql/ugc has an index here. Vote counts on comments are kept by a trigger, consistent
-- under concurrent votes. watch_progress is written by the stat pipeline's watch_progress sink,
-- which applies these migrations too, so either pipeline may start first.
CREATE TABLE IF NOT EXISTS reactions (
  user_id uuid NOT NULL,
  movie_id uuid NOT NULL,
  reaction smallint NOT NULL CHECK (reaction IN (-1, 1)),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX IF NOT EXISTS reactions_movie ON reactions (movie_id, reaction);
CREATE TABLE IF NOT EXISTS favorites (
  user_id uuid NOT NULL,
  movie_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX IF NOT EXISTS favorites_user_recent ON favorites (user_id, created_at DESC, movie_id DESC);
CREATE TABLE IF NOT EXISTS comments (
  id uuid PRIMARY KEY,
  movie_id uuid NOT NULL,
  user_id uuid NOT NULL,
  text text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  up integer NOT NULL DEFAULT 0,
  down integer NOT NULL DEFAULT 0,
  score integer GENERATED ALWAYS AS (up - down) STORED
);
CREATE INDEX IF NOT EXISTS comments_movie_new ON comments (movie_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS comments_movie_top ON comments (movie_id, score DESC, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS comment_votes (
  comment_id uuid NOT NULL REFERENCES comments (id),
  user_id uuid NOT NULL,
  value smallint NOT NULL CHECK (value IN (-1, 1)),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (comment_id, user_id)
);
CREATE OR REPLACE FUNCTION comment_votes_count() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $f$
  BEGIN IF TG_OP = 'UPDATE' AND OLD.value = NEW.value THEN RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN UPDATE comments SET up = up - (OLD.value = 1)::int, down = down - (OLD.value = -1)::int WHERE id = OLD.comment_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN UPDATE comments SET up = up + (NEW.value = 1)::int, down = down + (NEW.value = -1)::int WHERE id = NEW.comment_id;
  END IF;
  RETURN NULL;
  END
$f$;
DROP TRIGGER IF EXISTS comment_votes_count ON comment_votes;
CREATE TRIGGER comment_votes_count AFTER INSERT OR UPDATE OF value OR DELETE ON comment_votes FOR EACH ROW EXECUTE FUNCTION comment_votes_count();
CREATE TABLE IF NOT EXISTS watch_progress (
  user_id uuid NOT NULL,
  movie_id uuid NOT NULL,
  position_s double precision NOT NULL DEFAULT 0,
  duration_s double precision,
  completed boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, movie_id)
);
CREATE INDEX IF NOT EXISTS watch_progress_user_updated ON watch_progress (user_id, updated_at DESC);
CREATE INDEX IF NOT EXISTS watch_progress_user_unfinished ON watch_progress (user_id, updated_at DESC) WHERE NOT completed;
