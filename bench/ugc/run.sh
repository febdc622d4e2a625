#!/usr/bin/env bash
# bench/ugc/run.sh: the UGC API under wrk with the 70/30 mix of mix.lua, against the `ugc`
# pipeline of pipeline.yaml and the dev stack's PostgreSQL (dataset.sql loaded once into
# $UGC_BENCH_SCHEMA). The relay and the ETL run too, and bench/ugc/ch_latency measures write ->
# ClickHouse; UGC_BENCH_ANALYTICS=relay runs the relay only, 0 the API alone. Keep runs short:
# the machine is shared. Details: docs/benchmarks.md.
#   bench/ugc/run.sh            # UGC_BENCH_DURATION=10s UGC_BENCH_CONNECTIONS=64
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/script/lib/devstack-env.sh"
BIN=${UGCFLOW_BIN:-$ROOT/build/ugcflow}
DIR=$ROOT/bench/ugc
SCHEMA=${UGC_BENCH_SCHEMA:-bench_ugc}
DUR=${UGC_BENCH_DURATION:-10s}
CONNS=${UGC_BENCH_CONNECTIONS:-64}
TMP=$(mktemp -d /tmp/bench-ugc-XXXXXX)
export UGCFLOW_JWT_SECRET=${UGCFLOW_JWT_SECRET:-bench-ugc-secret-0123456789abcdef0123456789}
# Load from one address and a few users: rate limits far above it (pipeline.yaml's defaults
# are per real client).
export UGCFLOW_STAT_RATE_LIMIT=10000000 UGCFLOW_STAT_RATE_BURST=10000000
export UGCFLOW_UGC_WRITE_RATE_LIMIT=10000000 UGCFLOW_UGC_WRITE_RATE_BURST=10000000
export UGCFLOW_UGC_SCHEMA=$SCHEMA UGCFLOW_UGC_LISTEN=127.0.0.1:0 UGCFLOW_UGC_ADMIN=127.0.0.1:0
export UGCFLOW_ADMIN=127.0.0.1:0 UGCFLOW_SPOOL_DIR=$TMP/spool
export UGCFLOW_LOG_LEVEL=warn
ANALYTICS=${UGC_BENCH_ANALYTICS:-full}
BUILD=$(dirname "$BIN")
export UGCFLOW_OUTBOX_TOPIC=bench-ugc-events-$$ UGCFLOW_ETL_EVENTS_TOPIC=bench-ugc-events-$$
export UGCFLOW_ETL_EVENTS_GROUP=bench-ugc-$$ UGCFLOW_CH_DATABASE=bench_ugc_$$
export UGCFLOW_OUTBOX_ADMIN=127.0.0.1:0 UGCFLOW_ETL_EVENTS_ADMIN=127.0.0.1:0
PID= RELAY= ETL=
cleanup() {
    for p in $PID $RELAY $ETL; do kill "$p" 2>/dev/null || true; done
    for p in $PID $RELAY $ETL; do wait "$p" 2>/dev/null || true; done
    if [ "$ANALYTICS" != 0 ]; then
        "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_OUTBOX_TOPIC" 2>/dev/null || true
        curl -s "$UGCFLOW_CH_URL/" --data-binary "DROP DATABASE IF EXISTS $UGCFLOW_CH_DATABASE" >/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

UGCFLOW_LOG_LEVEL=info "$BIN" run "$ROOT/pipeline.yaml" --pipeline ugc 2>"$TMP/ugc.log" &
PID=$!
for _ in $(seq 100); do grep -q 'msg=Listening.' "$TMP/ugc.log" && break; sleep 0.1; done
PORT=$(grep 'msg=Listening.' "$TMP/ugc.log" | sed 's/.*port=\([0-9]*\).*/\1/')
[ -n "$PORT" ] || { cat "$TMP/ugc.log"; exit 1; }

have=$(psql -qtA "$UGCFLOW_PG_DSN" -c "SELECT count(*) FROM $SCHEMA.reactions")
if [ "$have" -lt 4900000 ]; then
    echo "bench/ugc: loading the dataset into schema $SCHEMA"
    time psql -q "$UGCFLOW_PG_DSN" -v schema="$SCHEMA" -v users=500000 -v movies=20000 \
        -v reactions=5000000 -v favorites=1000000 -v comments=500000 -f "$DIR/dataset.sql"
fi
export UGC_BENCH_DATA=${UGC_BENCH_DATA:-$ROOT/build/bench-ugc-data.lua}
[ -f "$UGC_BENCH_DATA" ] || "$DIR/gen_data.sh" 1000 2000 >"$UGC_BENCH_DATA"

if [ "$ANALYTICS" != 0 ]; then
    "$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_OUTBOX_TOPIC" 1
    psql -q "$UGCFLOW_PG_DSN" -c "TRUNCATE $SCHEMA.outbox" 2>/dev/null || true
    "$BIN" run "$ROOT/pipeline.yaml" --pipeline ugc-outbox >"$TMP/relay.log" 2>&1 &
    RELAY=$!
fi
if [ "$ANALYTICS" = full ]; then
    curl -sfS "$UGCFLOW_CH_URL/" --data-binary "CREATE DATABASE $UGCFLOW_CH_DATABASE" >/dev/null
    "$BIN" run "$ROOT/pipeline.yaml" --pipeline etl-events >"$TMP/etl.log" 2>&1 &
    ETL=$!
    PROBE_USER=$(cat /proc/sys/kernel/random/uuid)
    PROBE_TOKEN=$("$BIN" token --sub "$PROBE_USER" --ttl 24h)
fi

cd "$DIR"
wrk -t2 -c"$CONNS" -d2s -s mix.lua "http://127.0.0.1:$PORT" >/dev/null # warm-up
# CPU seconds (user + system) used so far by the given processes.
cpu_of() {
    local t=0 p
    for p in "$@"; do
        t=$(awk -v t="$t" '{ sub(/^.*\) /, ""); print t + ($12 + $13) / 100 }' "/proc/$p/stat" 2>/dev/null || echo "$t")
    done
    echo "$t"
}
pg0=$(cpu_of $(pgrep -x postgres)); uf0=$(cpu_of "$PID"); an0=$(cpu_of $RELAY $ETL)
echo "bench/ugc: wrk -t2 -c$CONNS -d$DUR --latency -s mix.lua (70% reads / 30% writes)"
PROBE=
if [ "$ANALYTICS" = full ]; then
    secs=${DUR%s}
    "$BUILD/ch_latency" "http://127.0.0.1:$PORT/api/v1" "$PROBE_TOKEN" \
        "$(cat /proc/sys/kernel/random/uuid)" "$UGCFLOW_CH_URL" "$UGCFLOW_CH_DATABASE" events \
        $((secs * 4 - 4)) 250 >"$TMP/probe.out" &
    PROBE=$!
fi
wrk -t2 -c"$CONNS" -d"$DUR" --latency -s mix.lua "http://127.0.0.1:$PORT" | tee "$TMP/wrk.out"
pg1=$(cpu_of $(pgrep -x postgres)); uf1=$(cpu_of "$PID"); an1=$(cpu_of $RELAY $ETL)
if [ -n "$PROBE" ]; then
    wait "$PROBE" && cat "$TMP/probe.out" || echo "bench/ugc: the write -> ClickHouse probe failed"
fi
[ "$ANALYTICS" = 0 ] || awk -v a="$an1" -v a0="$an0" \
    'BEGIN { printf "relay (and ETL): %.1f CPU-s during the run\n", a - a0 }'
if [ "$ANALYTICS" != 0 ]; then
    left=$(psql -qtA "$UGCFLOW_PG_DSN" -c "SELECT count(*) FROM $SCHEMA.outbox")
    echo "outbox: $left rows waiting at the end of the run"
fi
awk -v pg="$pg1" -v pg0="$pg0" -v uf="$uf1" -v uf0="$uf0" '
    /requests in/ { n = $1 }
    END { pg -= pg0; uf -= uf0
          if (n) printf "CPU per request: PostgreSQL %.0f us, ugcflow %.0f us (%.1f + %.1f CPU-s)\n",
                        pg * 1e6 / n, uf * 1e6 / n, pg, uf }' "$TMP/wrk.out"
ADMIN=$(grep -o 'admin_port=[0-9]*' "$TMP/ugc.log" | cut -d= -f2)
curl -s "http://127.0.0.1:$ADMIN/metrics" | awk '
    /^ugcflow_component_pg_round_trips_total/ { trips = $2 }
    /^ugcflow_component_received_events_total.*component="store"/ { reqs = $2 }
    END { if (trips) printf "store: %d requests in %d round trips (%.1f per round trip)\n", reqs, trips, reqs / trips }'
ps -o rss=,time= -p "$PID" | awk '{ printf "ugcflow: rss %d MiB, cpu %s\n", $1 / 1024, $2 }'
