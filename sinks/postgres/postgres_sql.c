/* postgres_sql.c: the UGC store's SQL, one prepared statement per operation (see
 * postgres_ugc.h for the contract: every statement answers rows whose first column is a JSON
 * object, and a write's second column is the id of the analytics event it produced, NULL when
 * it changed nothing). Times are rendered as RFC 3339 UTC with microseconds, which is also what
 * cursors carry back as $2. Writes are upserts or single-row deletes, so a statement never
 * fails on a concurrent duplicate. In an upsert's RETURNING, `xmax = 0` tells an inserted row
 * from an updated one, and `updated_at = now()` a changed row from an unchanged one (now() is
 * the transaction's start, which only this statement's write can have stored). A write that
 * changed something inserts its event into the outbox in the same statement (OUTBOX), so the
 * two commit together; the event's received_at is that same now(). */
#include "postgres_ugc.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define COMMENT_JSON                                                                               \
    "json_build_object('id', id, 'movie_id', movie_id, 'user_id', user_id, 'text', text, "       \
    "'created_at', " TS("created_at") ", 'up', up, 'down', down)"
#define PROGRESS_JSON                                                                              \
    "json_build_object('movie_id', movie_id, 'position_s', position_s, 'duration_s', "            \
    "duration_s, 'completed', completed, 'updated_at', " TS("updated_at") ")"

/* The outbox insert of a write whose changed rows come from CTE `from`: one event of type
 * `type` (an SQL expression) with the fields listed (pairs of 'name', expression). */
#define OUTBOX(from, type, fields)                                                                 \
    "o AS (INSERT INTO outbox (payload) SELECT json_build_object('type', " type ", "               \
    "'received_at', " TS("now()") ", " fields ") FROM " from " RETURNING event_id) "
#define EVENT_ID ", (SELECT event_id FROM o)"

/* clang-format off */
const struct uf_pg_stmt uf_pg_stmts[] = {
    [ST_REACT] = {"ugc_react_v2",
        "WITH w AS (INSERT INTO reactions AS r (user_id, movie_id, reaction) "
        "  VALUES ($1::uuid, $2::uuid, $3::smallint) "
        "  ON CONFLICT (user_id, movie_id) DO UPDATE SET reaction = EXCLUDED.reaction, "
        "  updated_at = CASE WHEN r.reaction = EXCLUDED.reaction THEN r.updated_at ELSE now() END "
        "  RETURNING r.xmax = 0 AS created, r.updated_at = now() AS changed, r.updated_at), "
        OUTBOX("w WHERE changed",
               "CASE WHEN $3::smallint = 1 THEN 'ugc.like' ELSE 'ugc.dislike' END",
               "'user_id', $1::uuid, 'movie_id', $2::uuid")
        "SELECT json_build_object('created', created, 'changed', changed, "
        "  'updated_at', " TS("updated_at") ")" EVENT_ID " FROM w", true},
    [ST_REACT_DEL] = {"ugc_react_del_v2",
        "WITH w AS (DELETE FROM reactions WHERE user_id = $1::uuid AND movie_id = $2::uuid "
        "  RETURNING reaction), "
        OUTBOX("w", "'ugc.reaction_removed'", "'user_id', $1::uuid, 'movie_id', $2::uuid")
        "SELECT json_build_object('reaction', reaction)" EVENT_ID " FROM w", true},
    [ST_REACT_GET] = {"ugc_react_get_v1",
        "SELECT json_build_object('reaction', reaction) FROM reactions "
        "WHERE user_id = $1::uuid AND movie_id = $2::uuid"},
    [ST_REACT_COUNT] = {"ugc_react_count_v2",
        "SELECT json_build_object('likes', coalesce(max(likes), 0), "
        "  'dislikes', coalesce(max(dislikes), 0)) "
        "FROM movie_reactions WHERE movie_id = $1::uuid"},
    [ST_COMMENT_ADD] = {"ugc_comment_add_v2",
        "WITH w AS (INSERT INTO comments (id, movie_id, user_id, text) "
        "  VALUES ($1::uuid, $2::uuid, $3::uuid, $4) RETURNING *), "
        OUTBOX("w", "'ugc.comment_created'",
               "'user_id', user_id, 'movie_id', movie_id, 'comment_id', id")
        "SELECT " COMMENT_JSON EVENT_ID " FROM w", true},
    [ST_COMMENTS_NEW] = {"ugc_comments_new_v1",
        "SELECT " COMMENT_JSON " FROM comments "
        "WHERE movie_id = $1::uuid AND deleted_at IS NULL "
        "  AND (created_at, id) < ($2::timestamptz, $3::uuid) "
        "ORDER BY created_at DESC, id DESC LIMIT $4::int"},
    [ST_COMMENTS_TOP] = {"ugc_comments_top_v1",
        "SELECT " COMMENT_JSON " FROM comments "
        "WHERE movie_id = $1::uuid AND deleted_at IS NULL "
        "  AND (score, created_at, id) < ($5::int, $2::timestamptz, $3::uuid) "
        "ORDER BY score DESC, created_at DESC, id DESC LIMIT $4::int"},
    [ST_COMMENT_DEL] = {"ugc_comment_del_v2",
        "WITH c AS (SELECT user_id, movie_id FROM comments "
        "           WHERE id = $1::uuid AND deleted_at IS NULL), "
        "     d AS (UPDATE comments SET deleted_at = now() "
        "           WHERE id = $1::uuid AND deleted_at IS NULL "
        "             AND (user_id = $2::uuid OR $3::bool) RETURNING id, movie_id, user_id), "
        OUTBOX("d", "'ugc.comment_deleted'",
               "'user_id', $2::uuid, 'movie_id', movie_id, 'comment_id', id, "
               "'props', json_build_object('author', user_id)")
        "SELECT json_build_object('movie_id', c.movie_id, 'author', c.user_id, "
        "  'deleted', EXISTS (SELECT 1 FROM d))" EVENT_ID " FROM c", true},
    [ST_VOTE_PUT] = {"ugc_vote_put_v2",
        "WITH c AS (SELECT movie_id FROM comments WHERE id = $1::uuid AND deleted_at IS NULL), "
        "     w AS (INSERT INTO comment_votes AS v (comment_id, user_id, value) "
        "  SELECT $1::uuid, $2::uuid, $3::smallint FROM c "
        "  ON CONFLICT (comment_id, user_id) DO UPDATE SET value = EXCLUDED.value, "
        "  updated_at = CASE WHEN v.value = EXCLUDED.value THEN v.updated_at ELSE now() END "
        "  RETURNING v.xmax = 0 AS created, v.updated_at = now() AS changed), "
        OUTBOX("w, c WHERE changed",
               "CASE WHEN $3::smallint = 1 THEN 'ugc.comment_vote_up' "
               "ELSE 'ugc.comment_vote_down' END",
               "'user_id', $2::uuid, 'movie_id', c.movie_id, 'comment_id', $1::uuid")
        "SELECT json_build_object('created', created)" EVENT_ID " FROM w", true},
    [ST_VOTE_DEL] = {"ugc_vote_del_v2",
        "WITH w AS (DELETE FROM comment_votes WHERE comment_id = $1::uuid AND user_id = $2::uuid "
        "  RETURNING value), "
        OUTBOX("w", "'ugc.comment_vote_removed'",
               "'user_id', $2::uuid, 'comment_id', $1::uuid, "
               "'movie_id', (SELECT movie_id FROM comments WHERE id = $1::uuid)")
        "SELECT json_build_object('value', value)" EVENT_ID " FROM w", true},
    [ST_FAV_PUT] = {"ugc_fav_put_v2",
        "WITH w AS (INSERT INTO favorites (user_id, movie_id) VALUES ($1::uuid, $2::uuid) "
        "  ON CONFLICT (user_id, movie_id) DO NOTHING RETURNING created_at), "
        OUTBOX("w", "'ugc.favorite_added'", "'user_id', $1::uuid, 'movie_id', $2::uuid")
        "SELECT json_build_object('created_at', " TS("created_at") ")" EVENT_ID " FROM w", true},
    [ST_FAV_DEL] = {"ugc_fav_del_v2",
        "WITH w AS (DELETE FROM favorites WHERE user_id = $1::uuid AND movie_id = $2::uuid "
        "  RETURNING movie_id), "
        OUTBOX("w", "'ugc.favorite_removed'", "'user_id', $1::uuid, 'movie_id', $2::uuid")
        "SELECT json_build_object('movie_id', movie_id)" EVENT_ID " FROM w", true},
    [ST_FAV_GET] = {"ugc_fav_get_v1",
        "SELECT json_build_object('created_at', " TS("created_at") ") FROM favorites "
        "WHERE user_id = $1::uuid AND movie_id = $2::uuid"},
    [ST_FAVS] = {"ugc_favs_v1",
        "SELECT json_build_object('movie_id', movie_id, 'created_at', " TS("created_at") ") "
        "FROM favorites WHERE user_id = $1::uuid "
        "  AND (created_at, movie_id) < ($2::timestamptz, $3::uuid) "
        "ORDER BY created_at DESC, movie_id DESC LIMIT $4::int"},
    [ST_PROGRESS] = {"ugc_progress_v1",
        "SELECT " PROGRESS_JSON " FROM watch_progress "
        "WHERE user_id = $1::uuid AND movie_id = $2::uuid"},
    [ST_HISTORY] = {"ugc_history_v1",
        "SELECT " PROGRESS_JSON " FROM watch_progress WHERE user_id = $1::uuid "
        "  AND (updated_at, movie_id) < ($2::timestamptz, $3::uuid) "
        "ORDER BY updated_at DESC, movie_id DESC LIMIT $4::int"},
    [ST_HISTORY_UNFINISHED] = {"ugc_history_unfinished_v1",
        "SELECT " PROGRESS_JSON " FROM watch_progress WHERE user_id = $1::uuid "
        "  AND NOT completed AND position_s > 0 "
        "  AND (updated_at, movie_id) < ($2::timestamptz, $3::uuid) "
        "ORDER BY updated_at DESC, movie_id DESC LIMIT $4::int"},
};
/* clang-format on */
const size_t uf_pg_nstmts = sizeof uf_pg_stmts / sizeof uf_pg_stmts[0];
