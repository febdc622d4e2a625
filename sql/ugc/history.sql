-- history_list: the user's watch progress, most recent first, keyset-paged by
-- (updated_at, movie_id).
SELECT json_build_object('movie_id', movie_id, 'position_s', position_s,
         'duration_s', duration_s, 'completed', completed,
         'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
         AS reply,
       to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS after_at,
       movie_id AS after_id
FROM watch_progress
WHERE user_id = :user::uuid AND (updated_at, movie_id) < (:after_at::timestamptz, :after_id::uuid)
ORDER BY updated_at DESC, movie_id DESC LIMIT :limit::int
