#!/usr/bin/env bash
# bench/etl/run.sh: the etl-views flow end to end on this machine: N view events already in
# Kafka -> rows in ClickHouse, with the pipeline of pipeline.yaml.
#   [UGCFLOW_ETL_VIEWS_PAYLOAD=raw|json] bench/etl/run.sh [N] [rowbinary|jsoneachrow] [zstd|none]
# (UGCFLOW_BUILD: the build directory to run; UGCFLOW_PIPELINE: another pipeline file, for A/B.)
# Prints rows/s, bytes, compression, CPU-s per million rows, INSERTs and page faults. Run it
# under the devstack lock (flock -o /tmp/ugcflow-devstack.lock bench/etl/run.sh ...); it does
# not take it itself, so an A/B fits in one locked session. Details: docs/benchmarks.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${UGCFLOW_KAFKA_BROKERS:=127.0.0.1:19092}" "${UGCFLOW_CH_URL:=http://127.0.0.1:18123}"
N=${1:-1000000}
FORMAT=${2:-rowbinary}
COMP=${3:-zstd}
BUILD=${UGCFLOW_BUILD:-$ROOT/build}
CH=$UGCFLOW_CH_URL
RUN=$$
export UGCFLOW_ETL_VIEWS_TOPIC=bench-etl-views-$N UGCFLOW_ETL_VIEWS_GROUP=bench-etl-$RUN-$(date +%s)
export UGCFLOW_CH_DATABASE=bench_etl_$RUN UGCFLOW_ETL_VIEWS_ADMIN=127.0.0.1:0
export UGCFLOW_ADMIN=127.0.0.1:0 UGCFLOW_ETL_VIEWS_FORMAT=$FORMAT UGCFLOW_ETL_VIEWS_COMPRESSION=$COMP
LOG=$(mktemp /tmp/bench-etl-XXXXXX.log)
q() { curl -sfS "$CH/" --data-binary "$1"; }
# CPU ticks (user + system) of a process, 0 when it is not found: the servers' share of a run.
ticks() { [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
CHPID=$(pgrep -f "clickhouse-server --config-file" | head -1 || true)
KPID=$(pgrep -f "kafka.Kafka" | head -1 || true)

if ! kcat -b "$UGCFLOW_KAFKA_BROKERS" -L -t "$UGCFLOW_ETL_VIEWS_TOPIC" 2>/dev/null |
        grep -q "partition 7,"; then
    "$BUILD/etl_produce" "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_ETL_VIEWS_TOPIC" "$N" --partitions 8
fi
q "CREATE DATABASE IF NOT EXISTS $UGCFLOW_CH_DATABASE" >/dev/null
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"; q "DROP DATABASE IF EXISTS $UGCFLOW_CH_DATABASE" >/dev/null' EXIT

CH0=$(ticks "$CHPID") K0=$(ticks "$KPID")
"$BUILD/ugcflow" run "${UGCFLOW_PIPELINE:-$ROOT/pipeline.yaml}" --pipeline etl-views --log-level warn >"$LOG" 2>&1 &
PID=$!
# The clock starts at the first row, so the group's join time is not counted. That leaves the
# first batch out (filled and written before the clock starts), so the rate is also taken from
# the first message the source emitted (first_event_rows_per_s), which counts every row.
admin_port() { ss -ltnp 2>/dev/null | awk -v p="pid=$PID," '$0 ~ p {sub(/.*:/, "", $4); print $4; exit}'; }
emitted() {
    curl -sf "http://127.0.0.1:$1/metrics" 2>/dev/null |
        awk '/^ugcflow_component_sent_events_total.*component="consume"/ {n = $2} END {print n + 0}'
}
TE=
for _ in $(seq 1 600); do
    [ -z "$TE" ] && P0=$(admin_port) && [ -n "$P0" ] && [ "$(emitted "$P0")" -gt 0 ] &&
        TE=$(date +%s.%N)
    R0=$(q "SELECT count() FROM $UGCFLOW_CH_DATABASE.views" 2>/dev/null || echo 0)
    [ "$R0" -gt 0 ] && break
    sleep 0.05
done
T0=$(date +%s.%N)
# The last, partial batch waits batch_age (1 s) before it is sent, so the rate is also taken up
# to 90% of N (steady_rows_per_s), which that tail does not distort.
T90=
for _ in $(seq 1 3000); do
    C=$(q "SELECT count() FROM $UGCFLOW_CH_DATABASE.views" 2>/dev/null || echo 0)
    [ -z "$T90" ] && [ "$C" -ge $((N * 9 / 10)) ] && { T90=$(date +%s.%N); C90=$C; }
    [ "$C" -ge "$N" ] && break
    kill -0 $PID || { cat "$LOG"; exit 1; }
    sleep 0.1
done
T1=$(date +%s.%N)
CH1=$(ticks "$CHPID") K1=$(ticks "$KPID")
read -r UT ST MINFLT < <(awk '{print $14, $15, $10}' /proc/$PID/stat)
PORT=$(ss -ltnp 2>/dev/null | awk -v p="pid=$PID," '$0 ~ p {sub(/.*:/, "", $4); print $4; exit}')
M=$(curl -sf "http://127.0.0.1:$PORT/metrics" || true)
WIRE=$(echo "$M" | awk '/^ugcflow_component_sent_bytes_total.*component="store"/ {print $2}')
RAW=$(echo "$M" | awk '/^ugcflow_component_clickhouse_row_bytes_total/ {print $2}')
# INSERTs: how many, and their mean duration (sent to answered), from the flush histogram.
FLUSH=$(echo "$M" | awk '/^ugcflow_component_flush_duration_seconds_(sum|count)\{.*component="store"/ {
    if ($1 ~ /_sum/) s = $2; else c = $2 } END { printf "%d %.0f", c, c ? s / c * 1000 : 0 }')
kill -INT $PID; wait $PID || true
HZ=$(getconf CLK_TCK)
awk -v n="$N" -v r0="$R0" -v t0="$T0" -v t1="$T1" -v ut="$UT" -v st="$ST" -v hz="$HZ" -v w="${WIRE:-0}" \
    -v r="${RAW:-0}" -v f="$FORMAT" -v c="$COMP" -v p="${UGCFLOW_ETL_VIEWS_PAYLOAD:-raw}" \
    -v fl="$FLUSH" -v t90="${T90:-0}" -v c90="${C90:-0}" -v chc=$((CH1 - CH0)) \
    -v kc=$((K1 - K0)) -v mf="$MINFLT" -v te="${TE:-0}" 'BEGIN {
    s = t1 - t0; cpu = (ut + st) / hz; split(fl, F, " ");
    printf "payload=%s format=%s compression=%s rows=%d seconds=%.2f rows_per_s=%.0f " \
           "steady_rows_per_s=%.0f first_event_rows_per_s=%.0f " \
           "wire_bytes=%d row_bytes=%d ratio=%.2f cpu_s=%.2f cpu_s_per_million=%.2f " \
           "inserts=%d insert_ms_avg=%d clickhouse_cpu_s=%.2f kafka_cpu_s=%.2f page_faults=%d\n",
           p, f, c, n, s, (n - r0) / s, (t90 > t0 ? (c90 - r0) / (t90 - t0) : 0), (te > 0 ? n / (t1 - te) : 0), w, r, (w > 0 ? r / w : 0), cpu, cpu / (n / 1e6),
           F[1], F[2], chc / hz / (n / 1e6), kc / hz / (n / 1e6), mf }'
