-- comment_vote_delete: no row when the user had no vote on the comment (404).
WITH w AS (
  DELETE FROM comment_votes WHERE comment_id = :comment_id::uuid AND user_id = :user::uuid
  RETURNING value),
o AS (
  INSERT INTO outbox (payload)
  SELECT json_build_object('type', 'ugc.comment_vote_removed',
    'received_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'user_id', :user::uuid, 'comment_id', :comment_id::uuid,
    'movie_id', (SELECT movie_id FROM comments WHERE id = :comment_id::uuid))
  FROM w RETURNING event_id)
SELECT (SELECT event_id FROM o) AS event_id FROM w
