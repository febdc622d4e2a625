-- favorite_delete: no row when it was not a favorite (404).
WITH w AS (
  DELETE FROM favorites WHERE user_id = :user::uuid AND movie_id = :movie_id::uuid
  RETURNING movie_id),
o AS (
  INSERT INTO outbox (payload)
  SELECT json_build_object('type', 'ugc.favorite_removed',
    'received_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'user_id', :user::uuid, 'movie_id', :movie_id::uuid)
  FROM w RETURNING event_id)
SELECT (SELECT event_id FROM o) AS event_id FROM w
