-- progress_get: the user's position in one movie (written by the stat pipeline).
SELECT json_build_object('movie_id', movie_id, 'position_s', position_s,
         'duration_s', duration_s, 'completed', completed,
         'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
         AS reply
FROM watch_progress WHERE user_id = :user::uuid AND movie_id = :movie_id::uuid
