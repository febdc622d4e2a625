-- bench/capacity/more-ugc.sql: the UGC rows bench/ugc/dataset.sql does not make, for the
-- capacity measurement: per user, :progress watch_progress rows (what the stat pipeline's
-- watch_progress sink keeps per registered viewer and movie) and :votes comment votes.
-- Usage (after dataset.sql, same schema and users/movies/comments counts):
--   psql "$DSN" -v schema=S -v users=500000 -v movies=20000 -v comments=500000 \
--        -v progress=5 -v votes=1 -f more-ugc.sql
-- Pairs are distinct by construction, as in dataset.sql: user i % users gets movie
-- (i*7 + (i / users) * 1009) % movies, and comment (i*11 + (i / users) * 4001) % comments.
\set ON_ERROR_STOP on
SET search_path TO :"schema";
SET synchronous_commit = off;
INSERT INTO watch_progress (user_id, movie_id, position_s, duration_s, completed, updated_at)
SELECT md5('u' || (i % :users))::uuid,
       md5('m' || (((i % :users) * 7 + (i / :users) * 1009) % :movies))::uuid,
       (i * 37) % 5400, 5400, i % 4 = 0, now() - (i % 86400) * interval '1 second'
FROM generate_series(0, :users * :progress - 1) i;
-- The vote counts on comments are kept by a trigger; a bulk load counts them itself below.
ALTER TABLE comment_votes DISABLE TRIGGER comment_votes_count;
INSERT INTO comment_votes (comment_id, user_id, value)
SELECT md5('c' || (((i % :users) * 11 + (i / :users) * 4001) % :comments))::uuid,
       md5('u' || (i % :users))::uuid, CASE WHEN i % 4 = 0 THEN -1 ELSE 1 END
FROM generate_series(0, :users * :votes - 1) i;
ALTER TABLE comment_votes ENABLE TRIGGER comment_votes_count;
UPDATE comments c SET up = v.up, down = v.down
FROM (SELECT comment_id, count(*) FILTER (WHERE value = 1) AS up,
             count(*) FILTER (WHERE value = -1) AS down
      FROM comment_votes GROUP BY comment_id) v
WHERE c.id = v.comment_id;
