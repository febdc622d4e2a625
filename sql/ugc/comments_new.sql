-- comments_list, sort=new: newest first, keyset-paged by (created_at, id).
SELECT json_build_object('id', id, 'movie_id', movie_id, 'user_id', user_id, 'text', text,
         'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
         'up', up, 'down', down) AS reply,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS after_at,
       id AS after_id
FROM comments
WHERE movie_id = :movie_id::uuid AND deleted_at IS NULL
  AND (created_at, id) < (:after_at::timestamptz, :after_id::uuid)
ORDER BY created_at DESC, id DESC LIMIT :limit::int
