#!/usr/bin/env bash
# bench/stat/run.sh: the stat pipeline's benchmark (issue 5), short and bounded.
#   bench/stat/run.sh [mock|real] [SECONDS]      (default: mock 10)
# wrk (2 threads, 64 connections) against the bound (bench/stat/bound: libmicrohttpd answering
# 202), then against ugcflow running bench/stat/stat-bench.yaml with librdkafka's mock cluster
# (mock) or the dev stack's broker (real): single events to /events and /player, then batches
# of 100. Reports requests/s, p50/p99, CPU-seconds per 100,000 events of ugcflow and the broker,
# and checks every 202 has a delivery report behind it. Details: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-mock}
SECS=${2:-10}
BUILD=${BUILD:-build}
CONNS=${CONNS:-64}
TMP=$(mktemp -d /tmp/bench-stat-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$MODE" = real ]; then
        "$BUILD/stat_topic" delete "$BROKERS" "$UGCFLOW_STAT_EVENTS_TOPIC" 2>/dev/null || true
        "$BUILD/stat_topic" delete "$BROKERS" "$UGCFLOW_STAT_VIEWS_TOPIC" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

# wrk_run URL SCRIPT: runs wrk, prints "rps p50 p99 total non2xx".
wrk_run() {
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "bench/stat/$2" "$1" >"$TMP/wrk.txt" 2>&1
    local rps p50 p99 total non2xx
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")
    total=$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$TMP/wrk.txt")
    echo "$rps $p50 $p99 $total ${non2xx:-0}"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# ---- the bound ----
"$BUILD/bound" 0 2 >"$TMP/bound.port" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$TMP/bound.port" ] && break; sleep 0.1; done
read -r bport <"$TMP/bound.port"
read -r b_rps b_p50 b_p99 b_total b_non <<<"$(wrk_run "http://127.0.0.1:$bport" events.lua)"
kill "${PIDS[0]}"
echo "bound            : $b_rps req/s  p50 $b_p50  p99 $b_p99  ($b_total requests, $b_non non-2xx)"

# ---- ugcflow ----
export UGCFLOW_SPOOL_DIR=$TMP/spool UGCFLOW_JWT_SECRET=bench-secret-bench-secret-bench-secret-1
. script/lib/devstack-env.sh 2>/dev/null || true
# Topics with as many partitions as the dev stack gives ugc.events and ugc.views
# (docs/dev-stack.md), on either broker.
EVENTS_PARTS=${UGCFLOW_KAFKA_EVENTS_PARTITIONS:-1} VIEWS_PARTS=${UGCFLOW_KAFKA_VIEWS_PARTITIONS:-1}
export UGCFLOW_BENCH_MOCK_BROKERS=0
export UGCFLOW_STAT_EVENTS_TOPIC=bench-stat-events-$$ UGCFLOW_STAT_VIEWS_TOPIC=bench-stat-views-$$
if [ "$MODE" = real ]; then
    BROKERS=${UGCFLOW_KAFKA_BROKERS:-127.0.0.1:19092}
    "$BUILD/stat_topic" create "$BROKERS" "$UGCFLOW_STAT_EVENTS_TOPIC" "$EVENTS_PARTS"
    "$BUILD/stat_topic" create "$BROKERS" "$UGCFLOW_STAT_VIEWS_TOPIC" "$VIEWS_PARTS"
    # (status exits 1 when any service is down; only the broker's pid matters here)
    KPID=$(script/dev-stack status 2>/dev/null | awk '$1 == "kafka" && $4 == "pid" {print $5}' || true)
else
    # librdkafka's mock cluster in a process of its own, so its CPU is not counted as ugcflow's.
    "$BUILD/mock_broker" "$UGCFLOW_STAT_EVENTS_TOPIC:$EVENTS_PARTS" \
        "$UGCFLOW_STAT_VIEWS_TOPIC:$VIEWS_PARTS" >"$TMP/mock.addr" &
    KPID=$!
    PIDS+=($KPID)
    for _ in $(seq 50); do [ -s "$TMP/mock.addr" ] && break; sleep 0.1; done
    if ! read -r BROKERS <"$TMP/mock.addr"; then
        echo "bench/stat: the mock broker did not start" >&2
        exit 1
    fi
fi
export UGCFLOW_KAFKA_BROKERS=$BROKERS
echo "topics           : events $EVENTS_PARTS partition(s), views $VIEWS_PARTS ($MODE broker $BROKERS)"
"$BUILD/ugcflow" run bench/stat/stat-bench.yaml --log-level info >"$TMP/stat.log" 2>&1 &
SPID=$!
PIDS+=($SPID)
for _ in $(seq 100); do grep -q 'msg=Running.' "$TMP/stat.log" && break; sleep 0.1; done
admin=127.0.0.1:$(sed -n 's/.*msg=Running\..*admin_port=\([0-9]*\).*/\1/p' "$TMP/stat.log")
metric() {
    curl -sf "http://$admin/metrics" |
        sed -n "s/^ugcflow_component_$1{[^}]*component=\"$2\"[^}]*} \([0-9.e+-]*\)$/\1/p" | head -1
}
port=$(metric http_listen_port api)
hz=$(getconf CLK_TCK)
# 2 s of warm-up, not measured: the broker's first requests to topics created just before are
# slow (leader election, new segment files), which set the first real-broker figures.
wrk -t2 -c"$CONNS" -d2s -s bench/stat/events.lua "http://127.0.0.1:$port" >/dev/null 2>&1
sleep 0.5 # the warm-up's last acks
acked0=$(metric kafka_acked_events_total to_events)
spooled0=$(metric spool_written_events_total to_events)
for script in events.lua player.lua batch.lua; do
    c0=$(cpu_ticks "$SPID")
    k0=$([ -n "${KPID:-}" ] && cpu_ticks "$KPID" || echo 0)
    read -r rps p50 p99 total non <<<"$(wrk_run "http://127.0.0.1:$port" "$script")"
    c1=$(cpu_ticks "$SPID")
    k1=$([ -n "${KPID:-}" ] && cpu_ticks "$KPID" || echo 0)
    per=1
    [ "$script" = batch.lua ] && per=100 && ok_events=$((ok_events + (total - non) * 100))
    [ "$script" = events.lua ] && ok_events=$((total - non))
    total=$((total * per))
    cpu=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$total" 'BEGIN {printf "%.2f", t / hz / n * 100000}')
    ratio=$(awk -v a="$rps" -v b="$b_rps" 'BEGIN {printf "%.2f", a / b}')
    eps=$(awk -v r="$rps" -v p="$per" 'BEGIN {printf "%.0f", r * p}')
    printf 'ugcflow %-8s : %s req/s = %s events/s (%sx bound)  p50 %s  p99 %s  cpu %s s/100k events  (%s events, %s non-2xx)\n' \
        "${script%.lua}" "$rps" "$eps" "$ratio" "$p50" "$p99" "$cpu" "$total" "$non"
    if [ -n "${KPID:-}" ]; then
        awk -v t=$((k1 - k0)) -v hz="$hz" -v n="$total" \
            'BEGIN {printf "  broker         : cpu %.2f s/100k events\n", t / hz / n * 100000}'
    fi
done
sleep 1 # the last acks of the run
acked=$(($(metric kafka_acked_events_total to_events | cut -d. -f1) - ${acked0%.*}))
spooled=$(($(metric spool_written_events_total to_events | cut -d. -f1) - ${spooled0%.*}))
echo "events producer  : $ok_events answered 202; ${acked%.*} acked by the broker, ${spooled%.*} spooled"
[ $((${acked%.*} + ${spooled%.*})) -ge "$ok_events" ] || echo "MISMATCH: fewer delivery reports than 202s"
kill -INT "$SPID"
wait "$SPID" || true
