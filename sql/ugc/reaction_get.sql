-- reaction_get: always one row; reaction null when the user has none.
SELECT json_build_object('movie_id', :movie_id::uuid,
         'reaction', CASE r.reaction WHEN 1 THEN 'like' WHEN -1 THEN 'dislike' END,
         'liked', coalesce(r.reaction = 1, false)) AS reply
FROM (SELECT) AS one
LEFT JOIN reactions r ON r.user_id = :user::uuid AND r.movie_id = :movie_id::uuid
