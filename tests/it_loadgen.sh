#!/usr/bin/env bash
# tests/it_loadgen.sh: `ugcflow loadgen` against the stat pipeline of pipeline.yaml on the dev
# stack's real Kafka and PostgreSQL: 2,000 requests/s for 5 s with a run tag of its own must
# achieve the rate within 2 %, have every event accepted (202, no errors, nothing unsent), list
# each accepted event once in the acked log, and find exactly the accepted events, by their
# tag and their ids, in the run's Kafka topics. Own topics, spool and PostgreSQL schema; it
# starts and stops nothing of the dev stack. Run under the devstack lock:
#   flock /tmp/ugcflow-devstack.lock ctest --test-dir build -R it_loadgen --output-on-failure
set -euo pipefail
: "${UGCFLOW_BIN:?UGCFLOW_BIN must name the ugcflow binary}"
: "${UGCFLOW_SOURCE_DIR:?UGCFLOW_SOURCE_DIR must name the source tree}"
SRC=$UGCFLOW_SOURCE_DIR
. "$SRC/script/lib/devstack-env.sh"
BUILD=$(dirname "$UGCFLOW_BIN")
RUN=$$-$(date +%s)
TAG=itlg-$RUN
RATE=${IT_LOADGEN_RATE:-2000}
SECS=${IT_LOADGEN_SECONDS:-5}
TMP=$(mktemp -d /tmp/it-loadgen-XXXXXX)
LOG=$TMP/stat.log
export UGCFLOW_JWT_SECRET=it-loadgen-secret-it-loadgen-secret-0123
# Load from one address and a few users: rate limits far above it (pipeline.yaml's defaults
# are per real client).
export UGCFLOW_STAT_RATE_LIMIT=10000000 UGCFLOW_STAT_RATE_BURST=10000000
export UGCFLOW_UGC_WRITE_RATE_LIMIT=10000000 UGCFLOW_UGC_WRITE_RATE_BURST=10000000
export UGCFLOW_ADMIN=127.0.0.1:0 UGCFLOW_STAT_ADMIN=127.0.0.1:0 UGCFLOW_STAT_LISTEN=127.0.0.1:0
export UGCFLOW_SPOOL_DIR=$TMP/spool UGCFLOW_SHUTDOWN_TIMEOUT=10s
export UGCFLOW_STAT_EVENTS_TOPIC=it-loadgen-events-$RUN UGCFLOW_STAT_VIEWS_TOPIC=it-loadgen-views-$RUN
export UGCFLOW_UGC_SCHEMA=it_loadgen_${RUN//-/_}
STAT=

fail() { echo "it_loadgen: FAIL: $*" >&2; tail -20 "$LOG" >&2 || true; exit 1; }
say() { echo "it_loadgen: $*"; }
cleanup() {
    [ -n "$STAT" ] && kill -9 "$STAT" 2>/dev/null || true
    "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_EVENTS_TOPIC" 2>/dev/null || true
    "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_VIEWS_TOPIC" 2>/dev/null || true
    psql -qAt "$UGCFLOW_PG_DSN" -c "DROP SCHEMA IF EXISTS $UGCFLOW_UGC_SCHEMA CASCADE" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# wait_for SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}
metric() {
    curl -sf "http://$ADMIN/metrics" |
        sed -n "s/^ugcflow_component_$1{[^}]*component=\"$2\"[^}]*} \([0-9.e+-]*\)$/\1/p" | head -1
}
# in_kafka: the tagged events of both topics, as their event ids (sorted, one a line), in a
# file: a pipe into `grep -q` under pipefail fails whenever grep stops reading first.
in_kafka() {
    local t
    for t in "$UGCFLOW_STAT_EVENTS_TOPIC" "$UGCFLOW_STAT_VIEWS_TOPIC"; do
        kcat -C -b "$UGCFLOW_KAFKA_BROKERS" -t "$t" -o beginning -e -q -f '%s\n' 2>/dev/null || true
    done >"$TMP/kafka.all"
    { grep -F "\"tag\":\"$TAG\"" "$TMP/kafka.all" || true; } >"$TMP/kafka.tagged"
    { grep -o '"event_id":"[0-9a-f-]*"' "$TMP/kafka.tagged" || true; } | cut -d'"' -f4 |
        sort >"$TMP/kafka.ids"
}
all_in_kafka() { in_kafka; [ "$(wc -l <"$TMP/kafka.tagged")" -ge "$1" ]; }

"$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_EVENTS_TOPIC" 2 || fail "topic"
"$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_VIEWS_TOPIC" 2 || fail "topic"
"$UGCFLOW_BIN" run "$SRC/pipeline.yaml" --pipeline stat >"$LOG" 2>&1 &
STAT=$!
wait_for 30 grep -q 'admin_port=' "$LOG" || fail "stat did not start"
ADMIN=127.0.0.1:$(sed -n 's/.*msg=Running\..*admin_port=\([0-9]*\).*/\1/p' "$LOG" | head -1)
wait_for 10 sh -c "curl -sf http://$ADMIN/metrics | grep -q http_listen_port" || fail "no metrics"
API=http://127.0.0.1:$(metric http_listen_port api)/api/v1

# A short warm-up (connections to the broker, the progress table), outside the measured run.
"$UGCFLOW_BIN" loadgen "$API" --rate 200 --duration 1s --quiet >"$TMP/warmup.txt" ||
    fail "warm-up: $(cat "$TMP/warmup.txt")"

"$UGCFLOW_BIN" loadgen "$API" --rate "$RATE" --duration "${SECS}s" --tag "$TAG" --seed 7 \
    --report "$TMP/report.json" --acked-log "$TMP/acked" >"$TMP/summary.txt" ||
    fail "loadgen exited $?: $(cat "$TMP/summary.txt")"
cat "$TMP/summary.txt"
R=$TMP/report.json
field() { jq -r "$1" "$R"; }
want=$((RATE * SECS))
[ "$(field .intended)" = "$want" ] || fail "intended $(field .intended), expected $want"
[ "$(field .sent)" = "$want" ] || fail "sent $(field .sent) of $want"
[ "$(field .ok)" = "$want" ] || fail "ok $(field .ok) of $want: errors $(field -c .errors)"
[ "$(field .errors_total)" = 0 ] || fail "errors: $(field -c .errors)"
[ "$(field '.statuses["202"]')" = "$want" ] || fail "statuses: $(field -c .statuses)"
[ "$(field .corrected)" = true ] || fail "not corrected"
awk -v a="$(field .achieved_rate)" -v t="$RATE" 'BEGIN { exit !(a >= 0.98 * t && a <= 1.02 * t) }' ||
    fail "achieved $(field .achieved_rate) req/s, target $RATE"
say "achieved $(field .achieved_rate) req/s of $RATE, p99 $(field .latency_ms.p99) ms, late sends $(field .late_sends)"

sort "$TMP/acked" >"$TMP/acked.sorted"
[ "$(wc -l <"$TMP/acked.sorted")" = "$want" ] || fail "acked log: $(wc -l <"$TMP/acked") lines, expected $want"
[ "$(uniq "$TMP/acked.sorted" | wc -l)" = "$want" ] || fail "acked log has repeated ids"

wait_for 60 all_in_kafka "$want" || fail "tagged events in Kafka: $(wc -l <"$TMP/kafka.tagged") of $want"
[ "$(wc -l <"$TMP/kafka.tagged")" = "$want" ] || fail "tagged events in Kafka: $(wc -l <"$TMP/kafka.tagged"), accepted $want"
cmp -s "$TMP/kafka.ids" "$TMP/acked.sorted" || fail "the ids in Kafka are not the accepted ones"
say "Kafka holds exactly the $want accepted events (by tag and by event id)"
kill -INT "$STAT"
wait "$STAT" || fail "stat did not stop cleanly"
STAT=
say "PASS"
