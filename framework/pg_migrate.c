/* pg_migrate.c: the UGC schema and the code that applies it (see pg_migrate.h), shared by every
 * kind that keeps data there (the UGC store, the view detector's sessions). Migrations are
 * append-only: a released one is never edited, a change is a new version. Every query of
 * sinks/postgres has an index here. `watch_progress` is written by the stat pipeline's sink,
 * which applies these migrations too, so either pipeline may start first. Vote counts on
 * comments are kept by a trigger, consistent under concurrent votes. */
#include "pg_migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "pg.h"

static const char v1_sql[] =
    "CREATE TABLE IF NOT EXISTS reactions ("
    " user_id uuid NOT NULL, movie_id uuid NOT NULL,"
    " reaction smallint NOT NULL CHECK (reaction IN (-1, 1)),"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (user_id, movie_id));"
    "CREATE INDEX IF NOT EXISTS reactions_movie ON reactions (movie_id, "
    "reaction);"
    "CREATE TABLE IF NOT EXISTS favorites ("
    " user_id uuid NOT NULL, movie_id uuid NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (user_id, movie_id));"
    "CREATE INDEX IF NOT EXISTS favorites_user_recent"
    " ON favorites (user_id, created_at DESC, movie_id DESC);"
    "CREATE TABLE IF NOT EXISTS comments ("
    " id uuid PRIMARY KEY, movie_id uuid NOT NULL, user_id uuid NOT NULL,"
    " text text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), "
    "deleted_at timestamptz,"
    " up integer NOT NULL DEFAULT 0, down integer NOT NULL DEFAULT 0,"
    " score integer GENERATED ALWAYS AS (up - down) STORED);"
    "CREATE INDEX IF NOT EXISTS comments_movie_new"
    " ON comments (movie_id, created_at DESC, id DESC) WHERE deleted_at IS "
    "NULL;"
    "CREATE INDEX IF NOT EXISTS comments_movie_top"
    " ON comments (movie_id, score DESC, created_at DESC, id DESC) WHERE "
    "deleted_at IS NULL;"
    "CREATE TABLE IF NOT EXISTS comment_votes ("
    " comment_id uuid NOT NULL REFERENCES comments (id), user_id uuid NOT NULL,"
    " value smallint NOT NULL CHECK (value IN (-1, 1)),"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (comment_id, user_id));"
    "CREATE OR REPLACE FUNCTION comment_votes_count() RETURNS trigger LANGUAGE "
    "plpgsql"
    " SET search_path FROM CURRENT AS $f$ BEGIN"
    "  IF TG_OP = 'UPDATE' AND OLD.value = NEW.value THEN RETURN NULL; END IF;"
    "  IF TG_OP IN ('UPDATE', 'DELETE') THEN"
    "   UPDATE comments SET up = up - (OLD.value = 1)::int, down = down - "
    "(OLD.value = -1)::int"
    "   WHERE id = OLD.comment_id; END IF;"
    "  IF TG_OP IN ('INSERT', 'UPDATE') THEN"
    "   UPDATE comments SET up = up + (NEW.value = 1)::int, down = down + "
    "(NEW.value = -1)::int"
    "   WHERE id = NEW.comment_id; END IF;"
    "  RETURN NULL; END $f$;"
    "DROP TRIGGER IF EXISTS comment_votes_count ON comment_votes;"
    "CREATE TRIGGER comment_votes_count AFTER INSERT OR UPDATE OF value OR "
    "DELETE"
    " ON comment_votes FOR EACH ROW EXECUTE FUNCTION comment_votes_count();"
    "CREATE TABLE IF NOT EXISTS watch_progress ("
    " user_id uuid NOT NULL, movie_id uuid NOT NULL,"
    " position_s double precision NOT NULL DEFAULT 0,"
    " duration_s double precision,"
    " completed boolean NOT NULL DEFAULT false,"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (user_id, movie_id));"
    "CREATE INDEX IF NOT EXISTS watch_progress_user_updated"
    " ON watch_progress (user_id, updated_at DESC);"
    "CREATE INDEX IF NOT EXISTS watch_progress_user_unfinished"
    " ON watch_progress (user_id, updated_at DESC) WHERE NOT completed;";

/* Per-movie like/dislike counts, kept by a trigger like the vote counts: reading them was a
 * scan of every reaction to the movie (hundreds of heap fetches per request at the product's
 * scale), now it is one row. The trigger is created before the backfill: CREATE TRIGGER holds
 * off writers (not readers) until the migration commits, so no reaction is counted twice or
 * missed while other instances keep answering reads. CREATE OR REPLACE TRIGGER (PostgreSQL
 * 14+) because DROP TRIGGER would lock the table against readers too. The movie index of
 * reactions served only that count; it is dropped last, so the exclusive lock that takes is
 * held only for the moment of the commit. A popular movie's counter row is updated by every
 * reaction to it, so reactions to one movie commit one after another. */
static const char v2_sql[] =
    "CREATE TABLE IF NOT EXISTS movie_reactions ("
    " movie_id uuid PRIMARY KEY,"
    " likes bigint NOT NULL DEFAULT 0, dislikes bigint NOT NULL DEFAULT 0);"
    "CREATE OR REPLACE FUNCTION movie_reactions_count() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $f$ BEGIN"
    "  IF TG_OP = 'UPDATE' AND OLD.movie_id = NEW.movie_id THEN"
    "   IF OLD.reaction <> NEW.reaction THEN"
    "    UPDATE movie_reactions"
    "    SET likes = likes + (NEW.reaction = 1)::int - (OLD.reaction = 1)::int,"
    "        dislikes = dislikes + (NEW.reaction = -1)::int - (OLD.reaction = -1)::int"
    "    WHERE movie_id = NEW.movie_id; END IF;"
    "   RETURN NULL; END IF;"
    "  IF TG_OP IN ('UPDATE', 'DELETE') THEN"
    "   UPDATE movie_reactions SET likes = likes - (OLD.reaction = 1)::int,"
    "    dislikes = dislikes - (OLD.reaction = -1)::int WHERE movie_id = OLD.movie_id; END IF;"
    "  IF TG_OP IN ('INSERT', 'UPDATE') THEN"
    "   INSERT INTO movie_reactions AS c (movie_id, likes, dislikes)"
    "   VALUES (NEW.movie_id, (NEW.reaction = 1)::int, (NEW.reaction = -1)::int)"
    "   ON CONFLICT (movie_id) DO UPDATE"
    "   SET likes = c.likes + EXCLUDED.likes, dislikes = c.dislikes + EXCLUDED.dislikes; END IF;"
    "  RETURN NULL; END $f$;"
    "CREATE OR REPLACE FUNCTION movie_reactions_truncate() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $f$ BEGIN TRUNCATE movie_reactions; RETURN NULL; END $f$;"
    "CREATE OR REPLACE TRIGGER movie_reactions_count"
    " AFTER INSERT OR UPDATE OF reaction, movie_id OR DELETE"
    " ON reactions FOR EACH ROW EXECUTE FUNCTION movie_reactions_count();"
    "CREATE OR REPLACE TRIGGER movie_reactions_truncate AFTER TRUNCATE ON reactions"
    " FOR EACH STATEMENT EXECUTE FUNCTION movie_reactions_truncate();"
    "INSERT INTO movie_reactions AS c (movie_id, likes, dislikes)"
    " SELECT movie_id, count(*) FILTER (WHERE reaction = 1), count(*) FILTER (WHERE reaction = -1)"
    " FROM reactions GROUP BY movie_id"
    " ON CONFLICT (movie_id) DO UPDATE SET likes = EXCLUDED.likes, dislikes = EXCLUDED.dislikes;"
    "DROP INDEX IF EXISTS reactions_movie;";

/* The transactional outbox (docs/analytics.md): every UGC write inserts its analytics event
 * here in the same statement, so both commit or neither does; the relay (the postgres_outbox
 * source) publishes rows in seq order and deletes them after the broker's ack. The event id is
 * made here, once: a UUIDv7 from the clock at insert (PostgreSQL 15 has no uuidv7(); this is
 * gen_random_uuid() with its first 48 bits replaced by Unix milliseconds and version 7). The
 * payload is json, not jsonb: it is written once and read once, as text. The table is a queue:
 * rows live for milliseconds, so autovacuum runs on a fixed count of dead rows rather than a
 * share of a table that is mostly empty. outbox_dead keeps the rows whose events a sink
 * refused for good, with the reason. No trigger notifies the relay: a NOTIFY inside a write
 * would serialise the writes' commits (the store notifies after them, postgres_pool.h). */
static const char v3_sql[] =
    "CREATE OR REPLACE FUNCTION ugcflow_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $f$"
    " SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING"
    "  substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)"
    "  FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid $f$;"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " event_id uuid NOT NULL DEFAULT ugcflow_uuid_v7(),"
    " payload json NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now())"
    " WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,"
    "  autovacuum_vacuum_cost_delay = 0);"
    "CREATE TABLE IF NOT EXISTS outbox_dead ("
    " seq bigint PRIMARY KEY, event_id uuid NOT NULL, payload json NOT NULL,"
    " reason text NOT NULL, buried_at timestamptz NOT NULL DEFAULT now());";

/* The view detector's sessions (stages/view_detector), so a playback split by a restart of the
 * stat service still counts its one view: saved about once a second, read back at start,
 * deleted a ttl after their last event. */
static const char v4_sql[] =
    "CREATE TABLE IF NOT EXISTS view_sessions ("
    " key text PRIMARY KEY,"
    " watched_s double precision NOT NULL, pos_s double precision NOT NULL,"
    " at_us bigint NOT NULL, playing boolean NOT NULL, have_pos boolean NOT NULL,"
    " counted boolean NOT NULL, touched_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX IF NOT EXISTS view_sessions_touched ON view_sessions (touched_at);";

const struct uf_pg_migration uf_pg_migrations[] = {
    {1,
     "ugc tables: reactions, favorites, comments, comment_votes, "
     "watch_progress",
     v1_sql},
    {2, "per-movie reaction counts kept by a trigger", v2_sql},
    {3, "transactional outbox of analytics events", v3_sql},
    {4, "the view detector's sessions", v4_sql},
    {0, NULL, NULL},
};

static int lock_and_prepare(PGconn *conn, const char *schema, const char *quoted,
                            struct uf_err *err)
{
    const char *params[1] = {schema};
    PGresult *res =
        PQexecParams(conn, "SELECT pg_advisory_xact_lock(hashtext('ugcflow.migrate.' || $1))", 1,
                     NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = uf_err_set(err, UF_EIO, "advisory lock: %s", PQresultErrorMessage(res));
    PQclear(res);
    if (rc)
        return rc;
    char *sql = uf_xasprintf("CREATE SCHEMA IF NOT EXISTS %s; SET LOCAL search_path TO %s;"
                             "CREATE TABLE IF NOT EXISTS ugcflow_migrations ("
                             " version integer PRIMARY KEY, name text NOT NULL,"
                             " applied_at timestamptz NOT NULL DEFAULT now())",
                             quoted, quoted);
    rc = uf_pg_exec(conn, sql, "create schema", err);
    free(sql);
    return rc;
}

static int is_applied(PGconn *conn, int version, struct uf_err *err)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *params[1] = {v};
    PGresult *res = PQexecParams(conn, "SELECT 1 FROM ugcflow_migrations WHERE version = $1::int",
                                 1, NULL, params, NULL, NULL, 0);
    int rc = PQresultStatus(res) != PGRES_TUPLES_OK
                 ? uf_err_set(err, UF_EIO, "read versions: %s", PQresultErrorMessage(res))
                 : PQntuples(res) > 0;
    PQclear(res);
    return rc;
}

static int apply(PGconn *conn, const struct uf_pg_migration *m, struct uf_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "migration %d", m->version);
    if (uf_pg_exec(conn, m->sql, what, err))
        return err ? err->code : UF_EIO;
    char v[16];
    snprintf(v, sizeof v, "%d", m->version);
    const char *params[2] = {v, m->name};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO ugcflow_migrations (version, name) "
                                 "VALUES ($1::int, $2)",
                                 2, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = uf_err_set(err, UF_EIO, "%s: record version: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

int uf_pg_migrate(PGconn *conn, const char *schema, const char *quoted_schema, int *applied,
                  struct uf_err *err)
{
    *applied = 0;
    int rc = uf_pg_exec(conn, "BEGIN", "begin", err);
    if (rc)
        return rc;
    rc = lock_and_prepare(conn, schema, quoted_schema, err);
    for (const struct uf_pg_migration *m = uf_pg_migrations; rc == 0 && m->sql; m++) {
        int done = is_applied(conn, m->version, err);
        if (done < 0)
            rc = done;
        else if (!done && (rc = apply(conn, m, err)) == 0)
            (*applied)++;
    }
    if (rc == 0)
        rc = uf_pg_exec(conn, "COMMIT", "commit", err);
    if (rc) {
        PGresult *res = PQexec(conn, "ROLLBACK");
        PQclear(res);
        uf_err_prefix(err, "schema %s", quoted_schema);
        *applied = 0;
    }
    return rc;
}
