#!/usr/bin/env bash
# tests/it_outbox.sh: analytics that match PostgreSQL, end to end: the ugc, ugc-outbox,
# etl-events and stat pipelines under a concurrent UGC mix (wrk, tests/support/ugc_mix.lua),
# through SIGKILL of ugc and of the relay, and Kafka and ClickHouse each stopped 30 s. After
# each: `ugcflow reconcile` clean, every Event-Id a client got in ClickHouse, no event_id twice
# after FINAL, no 5xx while a service was down; and a stat event resent with its own id is one
# row. Own schema, topics, group and database; stops services: run it under the devstack lock.
set -euo pipefail
: "${UGCFLOW_BIN:?UGCFLOW_BIN must name the ugcflow binary}"
: "${UGCFLOW_SOURCE_DIR:?UGCFLOW_SOURCE_DIR must name the source tree}"
SRC=$UGCFLOW_SOURCE_DIR
. "$SRC/script/lib/devstack-env.sh"
DEVSTACK_BIN=${UGCFLOW_DEVSTACK:-$SRC/script/dev-stack}
devstack() { "$DEVSTACK_BIN" "$@" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; }
BIN=$UGCFLOW_BIN
BUILD=$(dirname "$BIN")
RUN=$$-$(date +%s)
NAME=it_outbox_${RUN//-/_}
TMP=$(mktemp -d /tmp/it-outbox-XXXXXX)
CH=$UGCFLOW_CH_URL
export UGCFLOW_JWT_SECRET=it-outbox-secret-0123456789abcdef0123456789
# Load from one address and a few users: rate limits far above it (pipeline.yaml's defaults
# are per real client).
export UGCFLOW_STAT_RATE_LIMIT=10000000 UGCFLOW_STAT_RATE_BURST=10000000
export UGCFLOW_UGC_WRITE_RATE_LIMIT=10000000 UGCFLOW_UGC_WRITE_RATE_BURST=10000000
export UGCFLOW_UGC_SCHEMA=$NAME UGCFLOW_CH_DATABASE=$NAME
export UGCFLOW_OUTBOX_TOPIC=it-outbox-$RUN UGCFLOW_ETL_EVENTS_TOPIC=it-outbox-$RUN
export UGCFLOW_STAT_EVENTS_TOPIC=it-outbox-$RUN UGCFLOW_STAT_VIEWS_TOPIC=it-outbox-views-$RUN
export UGCFLOW_ETL_EVENTS_GROUP=it-outbox-$RUN
export UGCFLOW_ADMIN=127.0.0.1:0 UGCFLOW_UGC_ADMIN=127.0.0.1:0 UGCFLOW_OUTBOX_ADMIN=127.0.0.1:0
export UGCFLOW_ETL_EVENTS_ADMIN=127.0.0.1:0 UGCFLOW_STAT_ADMIN=127.0.0.1:0
export UGCFLOW_STAT_LISTEN=127.0.0.1:0 UGCFLOW_SPOOL_DIR=$TMP/spool UGCFLOW_SHUTDOWN_TIMEOUT=5s
declare -A PID
UGC_PORT=0
LOAD=

fail() {
    echo "it_outbox: FAIL: $*" >&2
    # each log's first line of every message (the repeated ones say little), then its tail
    for f in "$TMP"/*.log; do
        echo "--- $f" >&2
        awk '{m = $0; sub(/^ts=[^ ]* /, "", m); sub(/ suppressed=.*/, "", m); k = substr(m, 1, 160)}
             !(k in seen) {seen[k] = 1; print}' "$f" | tail -40 | cut -c1-400 >&2
        tail -4 "$f" >&2
    done
    cat "$TMP/reconcile.out" >&2 2>/dev/null || true
    exit 1
}
say() { echo "it_outbox: $*"; }
q() { curl -sfS "$CH/?database=$NAME" --data-binary "$1"; }
psql_q() { psql -qtA "$UGCFLOW_PG_DSN" -c "SET search_path TO $NAME; $1" | tail -1; }
cleanup() {
    [ -n "$LOAD" ] && kill "$LOAD" 2>/dev/null || true
    for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    devstack up kafka clickhouse >/dev/null 2>&1 || true
    "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_OUTBOX_TOPIC" 2>/dev/null || true
    "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_VIEWS_TOPIC" 2>/dev/null || true
    psql -q "$UGCFLOW_PG_DSN" -c "DROP SCHEMA IF EXISTS $NAME CASCADE" >/dev/null 2>&1 || true
    curl -s "$CH/" --data-binary "DROP DATABASE IF EXISTS $NAME" >/dev/null 2>&1 || true
    [ -n "${IT_OUTBOX_KEEP:-}" ] && echo "it_outbox: kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT

# ---- processes ----
listen_port() { # LOG: waits for the listener's line and prints its port
    local deadline=$((SECONDS + 20))
    until grep -q 'msg=Listening.' "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || fail "no listener in $1"
        sleep 0.1
    done
    grep 'msg=Listening.' "$1" | tail -1 | sed 's/.*port=\([0-9]*\).*/\1/'
}
start() { # PIPELINE
    local log=$TMP/$1.log
    if [ "$1" = ugc ]; then
        : >"$log.now"
        UGCFLOW_UGC_LISTEN=127.0.0.1:$UGC_PORT "$BIN" run "$SRC/pipeline.yaml" --pipeline ugc \
            >"$log.now" 2>&1 &
        PID[ugc]=$!
        UGC_PORT=$(listen_port "$log.now")
        cat "$log.now" >>"$log"
    else
        "$BIN" run "$SRC/pipeline.yaml" --pipeline "$1" >>"$log" 2>&1 &
        PID[$1]=$!
    fi
}
kill9() { kill -9 "${PID[$1]}"; wait "${PID[$1]}" 2>/dev/null || true; }

# ---- load and checks ----
load() { # PHASE SECONDS: the UGC write mix in the background
    UGC_MIX_DATA=$TMP/data.lua UGC_MIX_ACKED=$TMP/acked.$1 \
        wrk -t1 -c8 -d"$2"s -s "$SRC/tests/support/ugc_mix.lua" "http://127.0.0.1:$UGC_PORT" \
        >"$TMP/wrk.$1" 2>&1 &
    LOAD=$!
}
wait_load() { # PHASE: prints the mix's counts
    wait "$LOAD" || fail "wrk failed: $(cat "$TMP/wrk.$1")"
    LOAD=
    grep '^ugc_mix:' "$TMP/wrk.$1" | sed "s/^ugc_mix:/it_outbox: $1:/"
}
server_errors() { sed -n 's/^ugc_mix: .* 5xx \([0-9]*\)$/\1/p' "$TMP/wrk.$1"; }
# settle PHASE: waits until reconcile is clean (the outbox drained and the ETL caught up), then
# checks that every acknowledged id arrived and none is doubled after FINAL.
settle() {
    local t0=$SECONDS deadline=$((SECONDS + 120))
    until "$BIN" reconcile "$SRC/pipeline.yaml" >"$TMP/reconcile.out" 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "$1: reconcile not clean after 120 s"
        for p in "${!PID[@]}"; do kill -0 "${PID[$p]}" 2>/dev/null || fail "$1: $p exited"; done
        sleep 1
    done
    say "$1: reconcile clean after $((SECONDS - t0)) s: $(tail -1 "$TMP/reconcile.out")"
    # reconcile compares end states: an event that did not change one (a repeated like) may
    # still be on its way, so every acknowledged id is awaited, against a deadline of its own.
    awk 'length($0) == 36' "$TMP"/acked.* | sort -u >"$TMP/acked.ids" # whole ids only
    local lost deadline=$((SECONDS + 60))
    while :; do
        q "SELECT DISTINCT toString(event_id) FROM events WHERE type LIKE 'ugc.%'" | sort -u >"$TMP/ch.ids"
        lost=$(comm -23 "$TMP/acked.ids" "$TMP/ch.ids" | wc -l)
        [ "$lost" = 0 ] && break
        [ $SECONDS -lt $deadline ] ||
            fail "$1: $lost acknowledged events missing from ClickHouse: $(comm -23 "$TMP/acked.ids" "$TMP/ch.ids" | head -3 | tr '\n' ' ')"
        sleep 1
    done
    local n u
    read -r n u < <(q "SELECT count(), uniqExact(event_id) FROM events FINAL WHERE type LIKE 'ugc.%' FORMAT TSV")
    [ "$n" = "$u" ] || fail "$1: $n rows after FINAL for $u event ids"
    read -r n u < <(q "SELECT count(), uniqExact(event_id) FROM events FINAL WHERE type = 'ugc.like' FORMAT TSV")
    [ "$n" = "$u" ] || fail "$1: likes: $n rows after FINAL for $u event ids"
    say "$1: $(wc -l <"$TMP/acked.ids") acknowledged, $(wc -l <"$TMP/ch.ids") in ClickHouse, 0 lost, 0 doubled"
}

# ---- setup ----
"$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_OUTBOX_TOPIC" 2 || fail "topic"
"$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_VIEWS_TOPIC" 1 || fail "topic"
curl -sfS "$CH/" --data-binary "CREATE DATABASE $NAME" >/dev/null || fail "database"
"$SRC/bench/ugc/gen_data.sh" 200 40 200 40 >"$TMP/data.lua"
for p in ugc ugc-outbox etl-events stat; do start "$p"; done
STAT_PORT=$(listen_port "$TMP/stat.log")

# 1. The mix at rest.
load rest 4
wait_load rest
settle rest

# 2. ugc killed with SIGKILL mid-burst and restarted.
load ugc-kill 6
sleep 2
kill9 ugc
start ugc
wait_load ugc-kill
settle ugc-kill

# 3. The relay killed with SIGKILL mid-publish, three times.
load relay-kill 6
for _ in 1 2 3; do
    sleep 1.5
    kill9 ugc-outbox
    start ugc-outbox
done
wait_load relay-kill
settle relay-kill

# 4. Kafka stopped for 30 s under load: the UGC API does not notice, the outbox grows.
load kafka-down 40
sleep 2
devstack down kafka >/dev/null
sleep 30
depth=$(psql_q "SELECT count(*) FROM outbox")
[ "$depth" -gt 0 ] || fail "kafka-down: the outbox did not grow"
devstack up kafka >/dev/null
wait_load kafka-down
[ "$(server_errors kafka-down)" = 0 ] || fail "kafka-down: the UGC API answered 5xx"
say "kafka-down: outbox depth $depth before Kafka came back"
settle kafka-down

# 5. ClickHouse stopped for 30 s under load.
load clickhouse-down 40
sleep 2
devstack down clickhouse >/dev/null
sleep 30
devstack up clickhouse >/dev/null
wait_load clickhouse-down
[ "$(server_errors clickhouse-down)" = 0 ] || fail "clickhouse-down: the UGC API answered 5xx"
settle clickhouse-down

# 6. A stat API client resending its own event_id (as an SDK retrying after a timeout): one row.
EID=0192f0c1-5555-7666-8777-$(printf '%012d' $$)
for body in "{\"type\":\"click\",\"event_id\":\"$EID\",\"anonymous_id\":\"a\"}" \
            "{\"type\":\"click\",\"event_id\":\"${EID^^}\",\"anonymous_id\":\"a\"}"; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" \
        "http://127.0.0.1:$STAT_PORT/api/v1/events")" = 202 ] || fail "stat: no 202"
done
deadline=$((SECONDS + 30))
until [ "$(q "SELECT count() FROM events WHERE event_id = '$EID'" || echo 0)" -ge 2 ]; do
    [ $SECONDS -lt $deadline ] || fail "stat: the resent event did not arrive twice"
    sleep 0.5
done
[ "$(q "SELECT count() FROM events FINAL WHERE event_id = '$EID'")" = 1 ] ||
    fail "stat: a resent event_id left more than one row after FINAL"
say "stat: an event sent twice with its own id: 2 messages, 1 row after FINAL"

for p in ugc ugc-outbox etl-events stat; do kill -INT "${PID[$p]}"; done
for p in ugc ugc-outbox etl-events stat; do wait "${PID[$p]}" || fail "$p did not stop cleanly"; done
PID=()
say "passed"
