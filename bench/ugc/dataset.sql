-- bench/ugc/dataset.sql: the UGC dataset at the product's scale, generated inside PostgreSQL.
-- Usage: psql "$DSN" -v schema=bench_ugc -v users=500000 -v movies=20000 \
--          -v reactions=5000000 -v favorites=1000000 -v comments=500000 -f dataset.sql
-- The tables must exist (ugcflow's migrations create them when the `ugc` pipeline starts with
-- UGCFLOW_UGC_SCHEMA=<schema>). User i is md5('u' || i)::uuid and movie j md5('m' || j)::uuid,
-- so the wrk scripts can pick ids without reading the database. Each (user, movie) pair of a
-- table is distinct by construction: user i % users gets movies (i*13 + k*2003) % movies for
-- k = i / users, distinct for k < 10.
\set ON_ERROR_STOP on
SET search_path TO :"schema";
SET synchronous_commit = off;
TRUNCATE reactions, favorites, comment_votes, comments;
-- Counted once below rather than row by row by the trigger.
ALTER TABLE reactions DISABLE TRIGGER movie_reactions_count;

INSERT INTO reactions (user_id, movie_id, reaction, created_at, updated_at)
SELECT md5('u' || (i % :users))::uuid,
       md5('m' || (((i % :users) * 13 + (i / :users) * 2003) % :movies))::uuid,
       CASE WHEN i % 5 = 0 THEN -1 ELSE 1 END,
       now() - (i % 86400) * interval '1 second', now() - (i % 86400) * interval '1 second'
FROM generate_series(0, :reactions - 1) i;
ALTER TABLE reactions ENABLE TRIGGER movie_reactions_count;
INSERT INTO movie_reactions (movie_id, likes, dislikes)
SELECT movie_id, count(*) FILTER (WHERE reaction = 1), count(*) FILTER (WHERE reaction = -1)
FROM reactions GROUP BY movie_id;

INSERT INTO favorites (user_id, movie_id, created_at)
SELECT md5('u' || (i % :users))::uuid,
       md5('m' || (((i % :users) * 17 + (i / :users) * 7001) % :movies))::uuid,
       now() - i * interval '1 second'
FROM generate_series(0, :favorites - 1) i;

INSERT INTO comments (id, movie_id, user_id, text, created_at, up, down)
SELECT md5('c' || i)::uuid, md5('m' || (i % :movies))::uuid, md5('u' || (i % :users))::uuid,
       'Benchmark review number ' || i || ': a fine film, worth watching twice.',
       now() - i * interval '1 second', i % 7, i % 3
FROM generate_series(0, :comments - 1) i;

ANALYZE reactions;
ANALYZE movie_reactions;
ANALYZE favorites;
ANALYZE comments;
