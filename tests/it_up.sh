#!/usr/bin/env bash
# tests/it_up.sh: `ugcflow up pipeline.yaml` against the dev stack: every pipeline comes up as
# its own process with its own log file; the stat process SIGKILLed is ready again within 2 s
# and its restart is counted in /api/deployment and /metrics; the deployment page is driven in
# headless Chromium (tests/browser/deploy_page.js: geometry, labels, etl-events stopped);
# SIGTERM stops producers before their consumers. Own ports (186xx), topics, groups, schema and
# database, so it runs beside anyone's deployment. Run under the devstack lock:
#   flock /tmp/ugcflow-devstack.lock ctest --test-dir build -L integration -R it_up
set -euo pipefail
: "${UGCFLOW_BIN:?UGCFLOW_BIN must name the ugcflow binary}"
: "${UGCFLOW_SOURCE_DIR:?UGCFLOW_SOURCE_DIR must name the source tree}"
: "${UGCFLOW_KAFKA_BROKERS:?set by script/test (eval "$(script/dev-stack env)")}"
: "${UGCFLOW_PG_DSN:?set by script/test (eval "$(script/dev-stack env)")}"
: "${UGCFLOW_CH_URL:?set by script/test (eval "$(script/dev-stack env)")}"
SRC=$UGCFLOW_SOURCE_DIR
BUILD=$(dirname "$UGCFLOW_BIN")
BROWSER=${IT_UP_BROWSER:-1}
RUN=$$-$(date +%s)
R=${RUN//-/_}
P=${IT_UP_PORT_BASE:-186}
export UGCFLOW_JWT_SECRET=it-up-secret-at-least-thirty-two-bytes-long UGCFLOW_SHUTDOWN_TIMEOUT=10s
# Load from one address and a few users: rate limits far above it (pipeline.yaml's defaults
# are per real client).
export UGCFLOW_STAT_RATE_LIMIT=10000000 UGCFLOW_STAT_RATE_BURST=10000000
export UGCFLOW_UGC_WRITE_RATE_LIMIT=10000000 UGCFLOW_UGC_WRITE_RATE_BURST=10000000
export UGCFLOW_ADMIN=127.0.0.1:${P}00 UGCFLOW_DEMO_ADMIN=127.0.0.1:${P}10
export UGCFLOW_STAT_ADMIN=127.0.0.1:${P}11 UGCFLOW_UGC_ADMIN=127.0.0.1:${P}12
export UGCFLOW_OUTBOX_ADMIN=127.0.0.1:${P}13 UGCFLOW_ETL_EVENTS_ADMIN=127.0.0.1:${P}14
export UGCFLOW_ETL_VIEWS_ADMIN=127.0.0.1:${P}15
export UGCFLOW_UGC_LISTEN=127.0.0.1:${P}20 UGCFLOW_STAT_LISTEN=127.0.0.1:${P}21
export UGCFLOW_STAT_EVENTS_TOPIC=it-up-$RUN.events UGCFLOW_OUTBOX_TOPIC=it-up-$RUN.events
export UGCFLOW_ETL_EVENTS_TOPIC=it-up-$RUN.events UGCFLOW_ETL_EVENTS_GROUP=it-up-$RUN-events
export UGCFLOW_STAT_VIEWS_TOPIC=it-up-$RUN.views UGCFLOW_ETL_VIEWS_TOPIC=it-up-$RUN.views
export UGCFLOW_ETL_VIEWS_GROUP=it-up-$RUN-views UGCFLOW_DLQ_TOPIC=it-up-$RUN.dlq
export UGCFLOW_UGC_SCHEMA=it_up_$R UGCFLOW_CH_DATABASE=it_up_$R
TMP=$(mktemp -d /tmp/it-up-XXXXXX)
export UGCFLOW_SPOOL_DIR=$TMP/spool
UP_URL=http://$UGCFLOW_ADMIN
UP=

fail() {
    echo "it_up: FAIL: $*" >&2
    tail -30 "$TMP/up.log" >&2 || true
    exit 1
}
cleanup() {
    if [ -n "$UP" ] && kill -0 "$UP" 2>/dev/null; then
        kill -TERM "$UP" 2>/dev/null || true
        for _ in $(seq 300); do kill -0 "$UP" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$UP" 2>/dev/null || true
    fi
    curl -sfS "$UGCFLOW_CH_URL/" --data-binary "DROP DATABASE IF EXISTS $UGCFLOW_CH_DATABASE" \
        >/dev/null 2>&1 || true
    psql "$UGCFLOW_PG_DSN" -qc "DROP SCHEMA IF EXISTS $UGCFLOW_UGC_SCHEMA CASCADE" \
        >/dev/null 2>&1 || true
    for t in "$UGCFLOW_STAT_EVENTS_TOPIC" "$UGCFLOW_STAT_VIEWS_TOPIC" "$UGCFLOW_DLQ_TOPIC"; do
        "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$t" >/dev/null 2>&1 || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

deployment() { curl -sf --max-time 5 "$UP_URL/api/deployment"; }
# until SECONDS WHAT CMD...: polls CMD every 0.1 s until it succeeds.
until_ok() {
    local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ $(($(date +%s%N) / 1000000)) -lt $deadline ] || fail "$what"
        kill -0 "$UP" 2>/dev/null || fail "ugcflow up exited"
        sleep 0.1
    done
}
all_up() {
    deployment | jq -e '[.processes[] | select(.status != "up")] | length == 0' >/dev/null
}
pid_of() { deployment | jq -r --arg p "$1" '.processes[] | select(.name == $p) | .pid'; }
restarts_of() { deployment | jq -r --arg p "$1" '.processes[] | select(.name == $p) | .restarts'; }

for t in "$UGCFLOW_STAT_EVENTS_TOPIC" "$UGCFLOW_STAT_VIEWS_TOPIC" "$UGCFLOW_DLQ_TOPIC"; do
    "$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$t" 2 || fail "cannot create topic $t"
done
curl -sfS "$UGCFLOW_CH_URL/" --data-binary "CREATE DATABASE IF NOT EXISTS $UGCFLOW_CH_DATABASE" \
    >/dev/null || fail "cannot create the ClickHouse database"
"$UGCFLOW_BIN" up "$SRC/pipeline.yaml" --log-dir "$TMP/logs" >"$TMP/up.log" 2>&1 &
UP=$!
until_ok 60 "every pipeline up and answering" all_up
names=$(deployment | jq -r '.processes[].name' | sort | tr '\n' ' ')
want=$("$UGCFLOW_BIN" pipelines "$SRC/pipeline.yaml" | awk '{print $1}' | sort | tr '\n' ' ')
[ "$names" = "$want" ] || fail "processes '$names', expected '$want'"
for n in $want; do
    [ -s "$TMP/logs/$n.log" ] || fail "no log file for $n"
done
echo "it_up: every pipeline up: $names"

# SIGKILL the stat process: its own admin listener must be ready again within 2 s.
old=$(pid_of stat)
[ "$old" -gt 0 ] || fail "no pid for stat"
t0=$(date +%s%N)
kill -KILL "$old"
ready() { curl -sf --max-time 1 "http://$UGCFLOW_STAT_ADMIN/ready"; }
gone() { ! kill -0 "$old" 2>/dev/null; }
until_ok 2 "the killed stat process to be reaped" gone
until_ok 2 "stat ready again within 2 s of its SIGKILL" ready
ms=$((($(date +%s%N) - t0) / 1000000))
echo "it_up: stat back and ready ${ms} ms after SIGKILL"
[ "$ms" -le 2000 ] || fail "stat took ${ms} ms to come back"
counted() { [ "$(restarts_of stat)" = 1 ] && [ "$(pid_of stat)" != "$old" ]; }
until_ok 3 "the restart counted in /api/deployment" counted
curl -sf "$UP_URL/metrics" | grep -qx 'ugcflow_up_restarts_total{pipeline="stat"} 1' \
    || fail "ugcflow_up_restarts_total for stat is not 1"
echo "it_up: restart counted in /api/deployment and /metrics"

if [ "$BROWSER" = 1 ]; then
    (cd "$SRC/tests/browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    node "$SRC/tests/browser/deploy_page.js" "$UP_URL" "$BUILD" "$UGCFLOW_STAT_LISTEN" \
        || fail "the deployment page"
fi

# SIGTERM: producers (stat, ugc) stop before the processes that consume what they wrote.
kill -TERM "$UP"
stopped() { ! kill -0 "$UP" 2>/dev/null; }
until_ok 60 "ugcflow up to stop" stopped
wait "$UP" || fail "ugcflow up exited with $?"
UP=
stop_ts() { sed -n 's/^ts=\([^ ]*\) level=info msg="\{0,1\}Stopped\..*/\1/p' "$TMP/logs/$1.log" | tail -1; }
for pair in "stat etl-events" "ugc ugc-outbox" "ugc-outbox etl-events" "stat etl-views"; do
    set -- $pair
    a=$(stop_ts "$1") b=$(stop_ts "$2")
    [ -n "$a" ] && [ -n "$b" ] || fail "no clean stop logged for $1 or $2"
    [[ "$a" < "$b" ]] || fail "$1 stopped at $a, after $2 at $b"
done
echo "it_up: stopped in dependency order; ok"
