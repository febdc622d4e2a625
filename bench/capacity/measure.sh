#!/usr/bin/env bash
# bench/capacity/measure.sh [STAGE...] | --derive OUTPUT: measures every input of
# docs/capacity.md on this machine (stages pg, ugc, stat, ch, part; all by default; what each
# does is in docs/capacity.md) and prints each figure as a `name = value` line, then the
# figures derived by formula (derive.awk); --derive runs only the formulas over a saved output.
# Everything it makes (schema, topics, groups, database, ports) is dropped at exit; every
# loop is bounded (CAP_* below). Run alone:
#   flock /tmp/ugcflow-bench.lock flock /tmp/ugcflow-devstack.lock bench/capacity/measure.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$ROOT/bench/capacity
if [ "${1:-}" = --derive ]; then
    awk '/^== derived/ { exit } /^[a-z][a-z0-9_.]* *= / { print $1 "=" $3 }' "${2:?saved output}" |
        awk -F= -f "$DIR/derive.awk"
    exit
fi
. "$ROOT/script/lib/devstack-env.sh"
BIN=${UGCFLOW_BIN:-$ROOT/build/ugcflow}
BUILD=$(dirname "$BIN")
STAGES=${*:-pg ugc stat ch part}
: "${CAP_USERS:=500000}" "${CAP_MEAN_RATE:=750}" "${CAP_PEAK_RATE:=3000}" "${CAP_SECONDS:=20}"
: "${CAP_UGC_RATE:=3000}" "${CAP_PART_EVENTS:=300000}" "${CAP_WAIT_S:=60}"
RUN=cap$$
SCHEMA=$RUN DB=$RUN
T_EVENTS=$RUN-events T_VIEWS=$RUN-views T_UGC=$RUN-ugc T_PART=$RUN-part T_DLQ=$RUN-dlq
DEV=${UGCFLOW_DEV_DIR:-$ROOT/.dev}
KDATA=$(sed -n 's/^log\.dirs=//p' "$DEV/kafka/server.properties")
# pid_on PORT: the process listening on 127.0.0.1:PORT (the broker's, ClickHouse's).
pid_on() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
KPID=$(pid_on "$UGCFLOW_KAFKA_PORT") CHPID=$(pid_on "$UGCFLOW_CH_HTTP_PORT")
HZ=$(getconf CLK_TCK)
TMP=$(mktemp -d /tmp/capacity-XXXXXX)
export UGCFLOW_JWT_SECRET=capacity-secret-capacity-secret-0123456789
# Load from one address and a few users: rate limits far above it (pipeline.yaml's defaults
# are per real client).
export UGCFLOW_STAT_RATE_LIMIT=10000000 UGCFLOW_STAT_RATE_BURST=10000000
export UGCFLOW_UGC_WRITE_RATE_LIMIT=10000000 UGCFLOW_UGC_WRITE_RATE_BURST=10000000
export UGCFLOW_ADMIN=127.0.0.1:0 UGCFLOW_STAT_ADMIN=127.0.0.1:0 UGCFLOW_STAT_LISTEN=127.0.0.1:0
export UGCFLOW_UGC_ADMIN=127.0.0.1:0 UGCFLOW_UGC_LISTEN=127.0.0.1:0 UGCFLOW_OUTBOX_ADMIN=127.0.0.1:0
export UGCFLOW_ETL_EVENTS_ADMIN=127.0.0.1:0 UGCFLOW_ETL_VIEWS_ADMIN=127.0.0.1:0
export UGCFLOW_SPOOL_DIR=$TMP/spool UGCFLOW_LOG_LEVEL=info UGCFLOW_UGC_SCHEMA=$SCHEMA
export UGCFLOW_CH_DATABASE=$DB UGCFLOW_DLQ_TOPIC=$T_DLQ
export UGCFLOW_STAT_EVENTS_TOPIC=$T_EVENTS UGCFLOW_STAT_VIEWS_TOPIC=$T_VIEWS
export UGCFLOW_OUTBOX_TOPIC=$T_UGC
PIDS=()
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
cleanup() {
    local t
    stop_all
    for t in "$T_EVENTS" "$T_VIEWS" "$T_UGC" "$T_PART" "$T_DLQ"; do
        "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$t" 2>/dev/null || true
    done
    psql -q "$UGCFLOW_PG_DSN" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    curl -s "$UGCFLOW_CH_URL/" --data-binary "DROP DATABASE IF EXISTS $DB" >/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM # so that a signal runs the cleanup too

say() { printf '%s\n' "$*"; }
fig() { printf '%-44s = %s\n' "$1" "$2"; echo "$1=$2" >>"$TMP/figures"; } # a figure, kept
pg() { psql -qtA "$UGCFLOW_PG_DSN" -c "$1"; }
ch() { curl -sfS "$UGCFLOW_CH_URL/" --data-binary "$1"; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
# cpu PID...: CPU seconds (utime + stime of /proc/PID/stat) of the processes so far.
cpu() {
    local p t=0
    for p in "$@"; do
        t=$(awk -v t="$t" -v hz="$HZ" '{ sub(/^.*\) /, ""); print t + ($12 + $13) / hz }' \
            "/proc/$p/stat" 2>/dev/null || echo "$t")
    done
    echo "$t"
}
pg_pids() { pgrep -x postgres | tr '\n' ' '; }
# topic_bytes TOPIC: bytes of the topic's log segments on the broker's disk (all partitions).
topic_bytes() { cat "$KDATA/$1"-[0-9]*/*.log 2>/dev/null | wc -c; }
# topic_msgs TOPIC [PATTERN]: messages in the topic (containing PATTERN).
topic_msgs() {
    kcat -C -b "$UGCFLOW_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%s\n' 2>/dev/null |
        grep -cF -- "${2:-}" || true
}
topic() { "$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$1" "${2:-1}" >/dev/null; }
# wait_until SECONDS CMD...: polls CMD every 0.2 s until it succeeds or SECONDS pass.
wait_until() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}
# start NAME PIPELINE [VAR=VALUE...]: runs a pipeline of pipeline.yaml with those variables;
# sets PID (and PORT, its HTTP port, when it has one).
start() {
    local name=$1 pipe=$2
    shift 2
    : >"$TMP/$name.log"
    env "$@" "$BIN" run "$ROOT/pipeline.yaml" --pipeline "$pipe" >"$TMP/$name.log" 2>&1 &
    PID=$!
    PIDS+=($PID)
    wait_until 60 grep -q 'msg=Running\.' "$TMP/$name.log" || {
        tail -20 "$TMP/$name.log" >&2
        exit 1
    }
    PORT=$(sed -n 's/.*msg=Listening\..* port=\([0-9]*\).*/\1/p' "$TMP/$name.log" | head -1)
    ADMIN=$(sed -n 's/.*msg=Running\..*admin_port=\([0-9]*\).*/\1/p' "$TMP/$name.log" | head -1)
}
# loadgen API URL RATE TAG: one run of CAP_SECONDS, report in $TMP/TAG.json; prints its line.
loadgen() {
    "$BIN" loadgen "$2" --api "$1" --rate "$3" --duration "${CAP_SECONDS}s" --tag "$4" --quiet \
        --report "$TMP/$4.json" >"$TMP/$4.txt"
    say "  $BIN loadgen $2 --api $1 --rate $3 --duration ${CAP_SECONDS}s --tag $4"
    jq -r '"  sent \(.sent), ok \(.ok), errors \(.errors_total), achieved \(.achieved_rate) req/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms"' \
        "$TMP/$4.json"
}
ch_rows() { ch "SELECT count() FROM $DB.$1" 2>/dev/null || echo 0; }
caught_up() { [ "$(ch_rows "$1")" -ge "$2" ]; }

. "$DIR/stages.sh"
say "== inputs: the spec, the default workload's shares (bench/loadgen/workload.yaml), choices"
fig spec.mean_rps "$CAP_MEAN_RATE"
fig spec.peak_rps "$CAP_PEAK_RATE"
fig spec.users "$CAP_USERS"
awk '/^(population|stat|ugc):/ { s = $1; sub(":", "", s); next } /^[^ #]/ { s = "" }
     s && $1 ~ /:$/ { n = $1; sub(":", "", n); print "model." s "." n, $2 }' \
    "$ROOT/bench/loadgen/workload.yaml" | while read -r k v; do fig "$k" "$v"; done
: "${CAP_KAFKA_RETENTION_DAYS:=7}" "${CAP_KAFKA_REPLICATION:=3}" "${CAP_CH_RETENTION_DAYS:=365}"
: "${CAP_CH_REPLICAS:=2}" "${CAP_PG_REPLICAS:=2}" "${CAP_CPU_CEILING:=0.7}"
: "${CAP_INSTANCE_AVAILABILITY:=0.99}" "${CAP_PARTITION_HEADROOM:=2}" "${CAP_SCALE:=100}"
: "${CAP_TIER_AVAILABILITY:=0.9995}"
fig choice.kafka_retention_days "$CAP_KAFKA_RETENTION_DAYS"
fig choice.kafka_replication "$CAP_KAFKA_REPLICATION"
fig choice.ch_retention_days "$CAP_CH_RETENTION_DAYS"
fig choice.ch_replicas "$CAP_CH_REPLICAS"
fig choice.pg_replicas "$CAP_PG_REPLICAS"
fig choice.cpu_ceiling "$CAP_CPU_CEILING"
fig choice.instance_availability "$CAP_INSTANCE_AVAILABILITY"
fig choice.partition_headroom "$CAP_PARTITION_HEADROOM"
fig choice.tier_availability "$CAP_TIER_AVAILABILITY"
fig choice.scale "$CAP_SCALE"
for s in $STAGES; do
    case $s in
    pg | ugc | stat | ch | part) "stage_$s" ;;
    *) echo "measure.sh: unknown stage '$s' (pg ugc stat ch part)" >&2; exit 2 ;;
    esac
done
say "== derived (bench/capacity/derive.awk over the figures above)"
awk -F= -f "$DIR/derive.awk" "$TMP/figures"
