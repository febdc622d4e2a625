-- comments_list, sort=top: highest score (up - down) first, keyset-paged by
-- (score, created_at, id).
SELECT json_build_object('id', id, 'movie_id', movie_id, 'user_id', user_id, 'text', text,
         'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
         'up', up, 'down', down) AS reply,
       score AS after_score,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS after_at,
       id AS after_id
FROM comments
WHERE movie_id = :movie_id::uuid AND deleted_at IS NULL
  AND (score, created_at, id) < (:after_score::int, :after_at::timestamptz, :after_id::uuid)
ORDER BY score DESC, created_at DESC, id DESC LIMIT :limit::int
