-- favorite_get: always one row.
SELECT json_build_object('movie_id', :movie_id::uuid, 'favorite',
         EXISTS (SELECT 1 FROM favorites WHERE user_id = :user::uuid
                                           AND movie_id = :movie_id::uuid)) AS reply
