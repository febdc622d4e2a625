#!/usr/bin/env bash
# bench/ugc/kafka_latency.sh [COUNT] [INTERVAL_MS]: write -> Kafka latency of the UGC outbox at
# rest. Runs the `ugc` and `ugc-outbox` pipelines of pipeline.yaml on a scratch schema and a
# topic of their own whose timestamps the broker sets (LogAppendTime), makes COUNT favorite
# writes (default 200) one every INTERVAL_MS (default 50), then reads the topic back: each
# event's latency is its broker append time minus its write transaction's now() (the event's
# received_at), so it spans commit, notification, the relay's claim, produce and the ack.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/script/lib/devstack-env.sh"
BIN=${UGCFLOW_BIN:-$ROOT/build/ugcflow}
BUILD=$(dirname "$BIN")
COUNT=${1:-200} INTERVAL_MS=${2:-50}
TMP=$(mktemp -d /tmp/bench-kl-XXXXXX)
export UGCFLOW_JWT_SECRET=${UGCFLOW_JWT_SECRET:-bench-ugc-secret-0123456789abcdef0123456789}
# Load from one address and a few users: rate limits far above it (pipeline.yaml's defaults
# are per real client).
export UGCFLOW_STAT_RATE_LIMIT=10000000 UGCFLOW_STAT_RATE_BURST=10000000
export UGCFLOW_UGC_WRITE_RATE_LIMIT=10000000 UGCFLOW_UGC_WRITE_RATE_BURST=10000000
export UGCFLOW_UGC_SCHEMA=bench_kl_$$ UGCFLOW_UGC_LISTEN=127.0.0.1:0 UGCFLOW_UGC_ADMIN=127.0.0.1:0
export UGCFLOW_OUTBOX_ADMIN=127.0.0.1:0 UGCFLOW_OUTBOX_TOPIC=bench-kl-$$ UGCFLOW_LOG_LEVEL=info
PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_OUTBOX_TOPIC" 2>/dev/null || true
    psql -qX "$UGCFLOW_PG_DSN" -c "DROP SCHEMA IF EXISTS $UGCFLOW_UGC_SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

"$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_OUTBOX_TOPIC" 1 \
    message.timestamp.type=LogAppendTime
"$BIN" run "$ROOT/pipeline.yaml" --pipeline ugc 2>"$TMP/ugc.log" &
PIDS="$!"
for _ in $(seq 100); do grep -q 'msg=Listening.' "$TMP/ugc.log" && break; sleep 0.1; done
PORT=$(grep 'msg=Listening.' "$TMP/ugc.log" | sed 's/.*port=\([0-9]*\).*/\1/')
[ -n "$PORT" ] || { cat "$TMP/ugc.log"; exit 1; }
"$BIN" run "$ROOT/pipeline.yaml" --pipeline ugc-outbox 2>"$TMP/relay.log" &
PIDS="$PIDS $!"

TOKEN=$("$BIN" token --sub "$(cat /proc/sys/kernel/random/uuid)" --ttl 24h)
URL="http://127.0.0.1:$PORT/api/v1/favorites/$(cat /proc/sys/kernel/random/uuid)"
# The first write waits for the relay to be up; the rest are the measured ones.
for i in $(seq 0 "$COUNT"); do
    m=PUT; [ $((i % 2)) = 1 ] && m=DELETE
    curl -sf -o /dev/null -X "$m" -H "Authorization: Bearer $TOKEN" "$URL" ||
        { echo "bench/ugc/kafka_latency: write $i failed" >&2; exit 1; }
    sleep "$(awk -v ms="$INTERVAL_MS" 'BEGIN { print ms / 1000 }')"
done
# Read back until every write's event is there (bounded: 30 s).
want=$((COUNT + 1))
for _ in $(seq 60); do
    kcat -b "$UGCFLOW_KAFKA_BROKERS" -C -t "$UGCFLOW_OUTBOX_TOPIC" -o beginning -e -q \
        -f '%T %s\n' >"$TMP/topic" 2>/dev/null || true
    [ "$(wc -l <"$TMP/topic")" -ge "$want" ] && break
    sleep 0.5
done
python3 - "$TMP/topic" "$want" <<'PY'
import datetime, json, sys
lat = []
for line in open(sys.argv[1]):
    ts, payload = line.split(" ", 1)
    at = json.loads(payload)["received_at"]
    t = datetime.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    lat.append(int(ts) - t.timestamp() * 1000)
if len(lat) < int(sys.argv[2]):
    sys.exit(f"bench/ugc/kafka_latency: {len(lat)} of {sys.argv[2]} events in Kafka after 30 s")
lat = sorted(lat[1:])
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"write -> Kafka at rest: {len(lat)} writes, p50 {pick(0.5):.1f} ms, "
      f"p99 {pick(0.99):.1f} ms, max {lat[-1]:.1f} ms")
PY
