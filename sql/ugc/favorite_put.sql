-- favorite_put: always one row; 201 when it was added, 200 when it was a favorite already.
WITH w AS (
  INSERT INTO favorites (user_id, movie_id) VALUES (:user::uuid, :movie_id::uuid)
  ON CONFLICT (user_id, movie_id) DO NOTHING RETURNING created_at),
o AS (
  INSERT INTO outbox (payload)
  SELECT json_build_object('type', 'ugc.favorite_added',
    'received_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'user_id', :user::uuid, 'movie_id', :movie_id::uuid)
  FROM w RETURNING event_id)
SELECT json_build_object('movie_id', :movie_id::uuid, 'favorite', true) AS reply,
       CASE WHEN EXISTS (SELECT 1 FROM w) THEN 201 ELSE 200 END AS status,
       (SELECT event_id FROM o) AS event_id
