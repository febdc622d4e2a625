-- comment_create: a new comment with a time-ordered id, and its analytics event.
WITH w AS (
  INSERT INTO comments (id, movie_id, user_id, text)
  VALUES (ugcflow_uuid_v7(), :movie_id::uuid, :user::uuid, :text::text) RETURNING *),
o AS (
  INSERT INTO outbox (payload)
  SELECT json_build_object('type', 'ugc.comment_created',
    'received_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'user_id', user_id, 'movie_id', movie_id, 'comment_id', id)
  FROM w RETURNING event_id)
SELECT json_build_object('id', id, 'movie_id', movie_id, 'user_id', user_id, 'text', text,
         'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
         'up', up, 'down', down) AS reply,
       (SELECT event_id FROM o) AS event_id
FROM w
