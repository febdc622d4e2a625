#!/usr/bin/env bash
# bench/ugc/relay.sh [N] [BATCH_ROWS]: the outbox relay's throughput into the dev stack's real
# broker: N UGC events (default 300,000) put into an outbox at once, then the ugc-outbox
# pipeline of pipeline.yaml started and timed until the outbox is empty; prints events/s and
# the CPU seconds per 100,000 events of the relay, PostgreSQL and the broker. Own schema and
# topic, dropped at the end. Run under the bench and devstack locks.
set -euo pipefail
# Load from one address and a few users: rate limits far above it (pipeline.yaml's defaults
# are per real client).
export UGCFLOW_STAT_RATE_LIMIT=10000000 UGCFLOW_STAT_RATE_BURST=10000000
export UGCFLOW_UGC_WRITE_RATE_LIMIT=10000000 UGCFLOW_UGC_WRITE_RATE_BURST=10000000
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/script/lib/devstack-env.sh"
BIN=${UGCFLOW_BIN:-$ROOT/build/ugcflow}
BUILD=$(dirname "$BIN")
N=${1:-300000}
SCHEMA=bench_relay_$$
TMP=$(mktemp -d /tmp/bench-relay-XXXXXX)
export UGCFLOW_UGC_SCHEMA=$SCHEMA UGCFLOW_OUTBOX_TOPIC=bench-relay-$$ UGCFLOW_LOG_LEVEL=warn
export UGCFLOW_ADMIN=127.0.0.1:0 UGCFLOW_UGC_ADMIN=127.0.0.1:0 UGCFLOW_OUTBOX_ADMIN=127.0.0.1:0
export UGCFLOW_UGC_LISTEN=127.0.0.1:0 UGCFLOW_JWT_SECRET=bench-relay-secret-0123456789abcdef0123
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_OUTBOX_TOPIC" 2>/dev/null || true
    psql -q "$UGCFLOW_PG_DSN" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
pg() { psql -qtA "$UGCFLOW_PG_DSN" -c "$1"; }
cpu_of() { # CPU seconds (user + system) of the given processes so far
    local t=0 p
    for p in "$@"; do
        t=$(awk -v t="$t" '{ sub(/^.*\) /, ""); print t + ($12 + $13) / 100 }' "/proc/$p/stat" 2>/dev/null || echo "$t")
    done
    echo "$t"
}

# The schema and its outbox: the UGC store migrates at start.
"$BIN" run "$ROOT/pipeline.yaml" --pipeline ugc 2>"$TMP/ugc.log" &
PID=$!
for _ in $(seq 100); do grep -q 'msg=Listening.' "$TMP/ugc.log" && break; sleep 0.1; done
kill "$PID"; wait "$PID" || true
PID=
"$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_OUTBOX_TOPIC" 1
pg "INSERT INTO $SCHEMA.outbox (payload)
    SELECT jsonb_build_object('type', 'ugc.like', 'received_at', to_char(now() AT TIME ZONE 'UTC',
           'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'user_id', md5('u' || (g % 500000))::uuid,
           'movie_id', md5('m' || (g % 20000))::uuid)
    FROM generate_series(1, $N) g" >/dev/null
pg "VACUUM ANALYZE $SCHEMA.outbox" >/dev/null

KPID=$(pgrep -f "kafka.Kafka" | head -1)
pg0=$(cpu_of $(pgrep -x postgres)); k0=$(cpu_of "$KPID")
t0=$(date +%s.%N)
"$BIN" run "$ROOT/pipeline.yaml" --pipeline ugc-outbox 2>"$TMP/relay.log" &
PID=$!
while [ "$(pg "SELECT count(*) FROM (SELECT 1 FROM $SCHEMA.outbox LIMIT 1) t")" != 0 ]; do
    kill -0 "$PID" || { cat "$TMP/relay.log"; exit 1; }
    sleep 0.05
done
t1=$(date +%s.%N)
relay=$(cpu_of "$PID"); pg1=$(cpu_of $(pgrep -x postgres)); k1=$(cpu_of "$KPID")
msgs=$(kcat -b "$UGCFLOW_KAFKA_BROKERS" -C -t "$UGCFLOW_OUTBOX_TOPIC" -o beginning -e -q -f '.\n' | wc -l)
awk -v n="$N" -v t0="$t0" -v t1="$t1" -v r="$relay" -v p="$pg1" -v p0="$pg0" -v k="$k1" \
    -v k0="$k0" -v m="$msgs" 'BEGIN {
    s = t1 - t0
    printf "relay: %d events in %.2f s: %.0f events/s; %d messages in the topic\n", n, s, n / s, m
    printf "CPU-s per 100k events: relay %.2f, PostgreSQL %.2f, broker %.2f\n",
           r * 1e5 / n, (p - p0) * 1e5 / n, (k - k0) * 1e5 / n }'
