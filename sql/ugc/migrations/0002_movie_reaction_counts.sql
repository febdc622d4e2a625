-- Per-movie like/dislike counts, kept by a trigger like the vote counts: reading them was a
-- scan of every reaction to the movie (hundreds of heap fetches per request at the product's
-- scale), now it is one row. The trigger is created before the backfill: CREATE TRIGGER holds
-- off writers (not readers) until the migration commits, so no reaction is counted twice or
-- missed while other instances keep answering reads. CREATE OR REPLACE TRIGGER (PostgreSQL
-- 14+) because DROP TRIGGER would lock the table against readers too. The movie index of
-- reactions served only that count; it is dropped last, so the exclusive lock that takes is
-- held only for the moment of the commit. A popular movie's counter row is updated by every
-- reaction to it, so reactions to one movie commit one after another.
CREATE TABLE IF NOT EXISTS movie_reactions (
  movie_id uuid PRIMARY KEY,
  likes bigint NOT NULL DEFAULT 0,
  dislikes bigint NOT NULL DEFAULT 0
);
CREATE OR REPLACE FUNCTION movie_reactions_count() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $f$
  BEGIN IF TG_OP = 'UPDATE' AND OLD.movie_id = NEW.movie_id THEN IF OLD.reaction <> NEW.reaction THEN UPDATE movie_reactions SET likes = likes + (NEW.reaction = 1)::int - (OLD.reaction = 1)::int, dislikes = dislikes + (NEW.reaction = -1)::int - (OLD.reaction = -1)::int WHERE movie_id = NEW.movie_id;
  END IF;
  RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN UPDATE movie_reactions SET likes = likes - (OLD.reaction = 1)::int, dislikes = dislikes - (OLD.reaction = -1)::int WHERE movie_id = OLD.movie_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO movie_reactions AS c (movie_id, likes, dislikes) VALUES (NEW.movie_id, (NEW.reaction = 1)::int, (NEW.reaction = -1)::int) ON CONFLICT (movie_id) DO UPDATE SET likes = c.likes + EXCLUDED.likes, dislikes = c.dislikes + EXCLUDED.dislikes;
  END IF;
  RETURN NULL;
  END
$f$;
CREATE OR REPLACE FUNCTION movie_reactions_truncate() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $f$
  BEGIN TRUNCATE movie_reactions;
  RETURN NULL;
  END
$f$;
CREATE OR REPLACE TRIGGER movie_reactions_count AFTER INSERT OR UPDATE OF reaction, movie_id OR DELETE ON reactions FOR EACH ROW EXECUTE FUNCTION movie_reactions_count();
CREATE OR REPLACE TRIGGER movie_reactions_truncate AFTER TRUNCATE ON reactions FOR EACH STATEMENT EXECUTE FUNCTION movie_reactions_truncate();
INSERT INTO movie_reactions AS c (movie_id, likes, dislikes) SELECT movie_id, count(*) FILTER (WHERE reaction = 1), count(*) FILTER (WHERE reaction = -1) FROM reactions GROUP BY movie_id ON CONFLICT (movie_id) DO UPDATE SET likes = EXCLUDED.likes, dislikes = EXCLUDED.dislikes;
DROP INDEX IF EXISTS reactions_movie;
