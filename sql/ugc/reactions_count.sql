-- reactions_count: the per-movie counts a trigger keeps (migration 2); 0 and 0 for none.
SELECT json_build_object('movie_id', :movie_id::uuid, 'likes', coalesce(max(likes), 0),
         'dislikes', coalesce(max(dislikes), 0)) AS reply
FROM movie_reactions WHERE movie_id = :movie_id::uuid
