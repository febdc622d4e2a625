#!/usr/bin/env bash
# tests/it_ready.sh: /ready means ready. The `ugc` pipeline reaches the dev stack's PostgreSQL
# through a forwarder of this test's own (tests/support/tcp_proxy.py): with it killed, /ready
# answers 503 naming ugc/store and why while /health stays 200; started again, /ready is 200
# without restarting ugcflow. The `stat` pipeline with its Kafka brokers unreachable answers
# 503 naming both kafka sinks (spooling). Own schema, spool, ports.
set -euo pipefail
: "${UGCFLOW_BIN:?UGCFLOW_BIN must name the ugcflow binary}"
: "${UGCFLOW_SOURCE_DIR:?UGCFLOW_SOURCE_DIR must name the source tree}"
SRC=$UGCFLOW_SOURCE_DIR
. "$SRC/script/lib/devstack-env.sh"
TMP=$(mktemp -d /tmp/it-ready-XXXXXX)
SCHEMA=it_ready_$$
PROXY= UGC= STAT=
export UGCFLOW_JWT_SECRET=it-ready-secret-0123456789abcdef0123456789
export UGCFLOW_UGC_SCHEMA=$SCHEMA UGCFLOW_UGC_LISTEN=127.0.0.1:0 UGCFLOW_UGC_ADMIN=127.0.0.1:0
export UGCFLOW_STAT_LISTEN=127.0.0.1:0 UGCFLOW_STAT_ADMIN=127.0.0.1:0
export UGCFLOW_ADMIN=127.0.0.1:0 UGCFLOW_SPOOL_DIR=$TMP/spool UGCFLOW_SHUTDOWN_TIMEOUT=3s
PG_DSN=$UGCFLOW_PG_DSN
cleanup() {
    for p in $PROXY $UGC $STAT; do kill -9 "$p" 2>/dev/null || true; done
    psql -q "$PG_DSN" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "it_ready: FAIL: $*" >&2; tail -8 "$TMP"/*.log >&2 || true; exit 1; }

start_proxy() { # [PORT]: the forwarder to PostgreSQL; its port in PPORT
    python3 "$SRC/tests/support/tcp_proxy.py" "${1:-0}" "$UGCFLOW_PG_PORT" >"$TMP/proxy.out" &
    PROXY=$!
    local deadline=$((SECONDS + 10))
    until [ -s "$TMP/proxy.out" ]; do
        [ $SECONDS -lt $deadline ] || fail "no forwarder"
        sleep 0.05
    done
    PPORT=$(head -1 "$TMP/proxy.out")
}
admin_of() { # LOG: waits for "Running." and prints the admin address
    local deadline=$((SECONDS + 30))
    until grep -q 'msg=Running.' "$1"; do
        [ $SECONDS -lt $deadline ] || fail "not running: $1"
        sleep 0.1
    done
    echo "127.0.0.1:$(sed -n 's/.*msg=Running.*admin_port=\([0-9]*\).*/\1/p' "$1")"
}
# wait_ready ADMIN STATUS [JQ]: polls /ready until STATUS (and the body passes JQ), 20 s at most
wait_ready() {
    local deadline=$((SECONDS + 20)) got
    while :; do
        got=$(curl -s -o "$TMP/ready.json" -w '%{http_code}' "http://$1/ready" || true)
        if [ "$got" = "$2" ] && { [ -z "${3:-}" ] || jq -e "$3" "$TMP/ready.json" >/dev/null; }; then
            return 0
        fi
        [ $SECONDS -lt $deadline ] || fail "/ready: $got $(cat "$TMP/ready.json"), expected $2 ${3:-}"
        sleep 0.2
    done
}

# 1. PostgreSQL behind the forwarder.
start_proxy
UGCFLOW_PG_DSN="postgresql://ugcflow:ugcflow@127.0.0.1:$PPORT/ugcflow" \
    "$UGCFLOW_BIN" run "$SRC/pipeline.yaml" --pipeline ugc >"$TMP/ugc.log" 2>&1 &
UGC=$!
A=$(admin_of "$TMP/ugc.log")
wait_ready "$A" 200 '.status == "ready"'
kill -9 "$PROXY"
wait "$PROXY" 2>/dev/null || true
wait_ready "$A" 503 '.status == "not_ready" and (.not_ready[] | select(.component == "ugc/store"
    and .kind == "postgres" and (.reason | startswith("no PostgreSQL connection"))))'
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$A/health")" = 200 ] || fail "/health with PostgreSQL down"
start_proxy "$PPORT"
wait_ready "$A" 200 '.status == "ready"'
echo "it_ready: ugc: 200 -> 503 (PostgreSQL away) -> 200"

# 2. Kafka unreachable: the stat pipeline's kafka sinks spool and say so.
UGCFLOW_KAFKA_BROKERS=127.0.0.1:9 "$UGCFLOW_BIN" run "$SRC/pipeline.yaml" --pipeline stat \
    >"$TMP/stat.log" 2>&1 &
STAT=$!
A=$(admin_of "$TMP/stat.log")
wait_ready "$A" 503 '[.not_ready[] | select(.kind == "kafka" and
    (.reason | test("^Kafka brokers unreachable .*spooling")))] | length == 2'
echo "it_ready: stat with Kafka unreachable: 503 naming $(jq -c '[.not_ready[].component]' "$TMP/ready.json")"
echo "it_ready: ok"
