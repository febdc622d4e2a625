-- comment_vote_put (:value up or down): one vote per user and comment, an upsert; no row when
-- the comment does not exist (404). A trigger keeps the comment's counts (migration 1).
WITH c AS (SELECT movie_id FROM comments WHERE id = :comment_id::uuid AND deleted_at IS NULL),
w AS (
  INSERT INTO comment_votes AS v (comment_id, user_id, value)
  SELECT :comment_id::uuid, :user::uuid, CASE :value::text WHEN 'up' THEN 1 WHEN 'down' THEN -1 END
  FROM c
  ON CONFLICT (comment_id, user_id) DO UPDATE SET value = EXCLUDED.value,
    updated_at = CASE WHEN v.value = EXCLUDED.value THEN v.updated_at ELSE now() END
  RETURNING v.xmax = 0 AS created, v.updated_at = now() AS changed),
o AS (
  INSERT INTO outbox (payload)
  SELECT json_build_object(
    'type', CASE WHEN :value::text = 'up' THEN 'ugc.comment_vote_up'
                 ELSE 'ugc.comment_vote_down' END,
    'received_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'user_id', :user::uuid, 'movie_id', c.movie_id, 'comment_id', :comment_id::uuid)
  FROM w, c WHERE changed RETURNING event_id)
SELECT json_build_object('comment_id', :comment_id::uuid, 'value', :value::text) AS reply,
       CASE WHEN created THEN 201 ELSE 200 END AS status,
       (SELECT event_id FROM o) AS event_id
FROM w
