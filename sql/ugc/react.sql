-- like and dislike (:reaction 1 or -1): one reaction per user and movie, an upsert that never
-- fails on a concurrent duplicate. `xmax = 0` tells an inserted row from an updated one, and
-- `updated_at = now()` a changed row from an unchanged one (now() is the transaction's start,
-- which only this statement's write can have stored). A change puts its analytics event into
-- the outbox in the same statement, so both commit together.
WITH w AS (
  INSERT INTO reactions AS r (user_id, movie_id, reaction)
  VALUES (:user::uuid, :movie_id::uuid, :reaction::smallint)
  ON CONFLICT (user_id, movie_id) DO UPDATE SET reaction = EXCLUDED.reaction,
    updated_at = CASE WHEN r.reaction = EXCLUDED.reaction THEN r.updated_at ELSE now() END
  RETURNING r.xmax = 0 AS created, r.updated_at = now() AS changed, r.updated_at),
o AS (
  INSERT INTO outbox (payload)
  SELECT json_build_object(
    'type', CASE WHEN :reaction::smallint = 1 THEN 'ugc.like' ELSE 'ugc.dislike' END,
    'received_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'user_id', :user::uuid, 'movie_id', :movie_id::uuid)
  FROM w WHERE changed RETURNING event_id)
SELECT json_build_object('movie_id', :movie_id::uuid,
         'reaction', CASE WHEN :reaction::smallint = 1 THEN 'like' ELSE 'dislike' END,
         'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
         AS reply,
       CASE WHEN created THEN 201 ELSE 200 END AS status,
       (SELECT event_id FROM o) AS event_id
FROM w
