-- favorites_list: the user's favorites, newest first, keyset-paged by (created_at, movie_id).
SELECT json_build_object('movie_id', movie_id,
         'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
         AS reply,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS after_at,
       movie_id AS after_id
FROM favorites
WHERE user_id = :user::uuid AND (created_at, movie_id) < (:after_at::timestamptz, :after_id::uuid)
ORDER BY created_at DESC, movie_id DESC LIMIT :limit::int
