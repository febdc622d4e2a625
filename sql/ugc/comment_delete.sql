-- comment_delete: the author or an admin (role `admin` in :roles) marks it deleted. No row:
-- no such comment (404); a row that was not deleted: 403, or 404 when it was allowed but
-- someone deleted it between the two scans.
WITH c AS (
  SELECT user_id, movie_id FROM comments WHERE id = :comment_id::uuid AND deleted_at IS NULL),
d AS (
  UPDATE comments SET deleted_at = now()
  WHERE id = :comment_id::uuid AND deleted_at IS NULL
    AND (user_id = :user::uuid OR coalesce(:roles::jsonb ? 'admin', false))
  RETURNING id, movie_id, user_id),
o AS (
  INSERT INTO outbox (payload)
  SELECT json_build_object('type', 'ugc.comment_deleted',
    'received_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'user_id', :user::uuid, 'movie_id', movie_id, 'comment_id', id,
    'props', json_build_object('author', user_id))
  FROM d RETURNING event_id)
SELECT CASE WHEN EXISTS (SELECT 1 FROM d) THEN 204
            WHEN c.user_id = :user::uuid OR coalesce(:roles::jsonb ? 'admin', false) THEN 404
            ELSE 403 END AS status,
       (SELECT event_id FROM o) AS event_id
FROM c
