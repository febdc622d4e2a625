# script/lib/faults-lib.sh: the parts of script/faults: the deployment's processes, the load,
# the faults themselves and the counting. Sourced by script/faults, which sets SRC, BIN, TMP,
# RUN, DB (schema and ClickHouse database), the topics and the ports before calling anything.

say() { echo "faults: $*"; }
die() { echo "faults: FAIL: $*" >&2; exit 1; }
devstack() { "$SRC/script/dev-stack" "$@" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; }
# A broker or ClickHouse the suite restarts starts at nice 10: on a 2-core box its start (the
# JVM's class loading and JIT) would otherwise take the cores from the APIs whose availability
# is measured; in production it is another machine. renice_neighbours puts them back at 0.
neighbour_up() { nice -n 10 "$SRC/script/dev-stack" up "$1" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; }
renice_neighbours() {
    local svc t
    for svc in kafka clickhouse; do
        for t in /proc/"$(svc_pid "$svc")"/task/*; do renice -n 0 -p "${t##*/}" >/dev/null 2>&1 || true; done
    done
}
q() { curl -sfS "$UGCFLOW_CH_URL/?database=$DB" --data-binary "$1"; }
pgq() { psql -qtAX "$UGCFLOW_PG_DSN" -c "$1" | tail -1; }

# ---- the deployment: every pipeline its own process, as script/server runs them ----

declare -A PID
PIPELINES=(ugc ugc-outbox stat etl-events etl-views)

start_pipeline() { # NAME
    "$BIN" run "$SRC/pipeline.yaml" --pipeline "$1" >>"$TMP/logs/$1.log" 2>&1 &
    PID[$1]=$!
}
start_all() { for p in "${PIPELINES[@]}"; do start_pipeline "$p"; done; }
stop_all() {
    for p in "${!PID[@]}"; do kill -CONT "${PID[$p]}" 2>/dev/null; kill -TERM "${PID[$p]}" 2>/dev/null; done
    for p in "${!PID[@]}"; do wait "${PID[$p]}" 2>/dev/null; done
    PID=()
}
admin_of() { # NAME: the pipeline's admin port
    case $1 in
    ugc) echo "$UGCFLOW_UGC_ADMIN" ;; ugc-outbox) echo "$UGCFLOW_OUTBOX_ADMIN" ;;
    stat) echo "$UGCFLOW_STAT_ADMIN" ;; etl-events) echo "$UGCFLOW_ETL_EVENTS_ADMIN" ;;
    etl-views) echo "$UGCFLOW_ETL_VIEWS_ADMIN" ;;
    esac
}
ready() { curl -sf -o /dev/null "http://$(admin_of "$1")/ready"; }
wait_ready() { # SECONDS: every pipeline answers /ready
    local deadline=$((SECONDS + $1)) p
    for p in "${PIPELINES[@]}"; do
        until ready "$p"; do
            [ $SECONDS -lt $deadline ] || die "$p not ready: $(tail -3 "$TMP/logs/$p.log")"
            sleep 0.2
        done
    done
}
# metric_sum NAME: one metric summed over every process of the deployment.
metric_sum() {
    local p total=0 v
    for p in "${PIPELINES[@]}"; do
        v=$(curl -sf "http://$(admin_of "$p")/metrics" 2>/dev/null |
            awk -v n="ugcflow_component_$1" '$1 ~ "^"n"({|$)" { s += $2 } END { print s + 0 }')
        total=$((total + ${v%.*}))
    done
    echo "$total"
}

# ---- load: ugcflow loadgen on both APIs at once, segment by segment ----

# load_start SEGMENT SECONDS: both loadgens in the background for one segment of a scenario.
load_start() {
    local seg=$1 d=$2
    LOAD=()
    "$LOADGEN" loadgen "http://$UGCFLOW_STAT_LISTEN/api/v1" --rate "$STAT_RATE" --duration "${d}s" \
        --tag "$TAG" --seed "$((SEED++))" --timeout 10s --acked-log "$TMP/acked/stat.$SC.$seg" \
        --report "$TMP/reports/stat.$SC.$seg.json" >"$TMP/logs/loadgen.stat.$SC.$seg" 2>&1 &
    LOAD+=($!)
    "$LOADGEN" loadgen "http://$UGCFLOW_UGC_LISTEN/api/v1" --api ugc --rate "$UGC_RATE" \
        --duration "${d}s" --tag "$TAG" --seed "$((SEED++))" --timeout 10s \
        --acked-log "$TMP/acked/ugc.$SC.$seg" --report "$TMP/reports/ugc.$SC.$seg.json" \
        >"$TMP/logs/loadgen.ugc.$SC.$seg" 2>&1 &
    LOAD+=($!)
}
load_wait() { local p; for p in "${LOAD[@]}"; do wait "$p" || true; done; LOAD=(); }
# report API SEGMENT FIELD: a field of one segment's loadgen report (jq path).
report() { jq -r "$3 // 0" "$TMP/reports/$1.$SC.$2.json" 2>/dev/null || echo 0; }
max_of() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
# error_rate API SEGMENT...: failed requests per sent one over the segments, in percent.
error_rate() {
    local api=$1 seg e=0 n=0
    shift
    for seg in "$@"; do
        e=$((e + $(report "$api" "$seg" .errors_total)))
        n=$((n + $(report "$api" "$seg" .sent)))
    done
    awk -v e="$e" -v n="$n" 'BEGIN { printf "%.2f", n ? 100 * e / n : 0 }'
}

# ---- faults ----

svc_pid() { head -1 "$SRC/.dev/run/$1.pid" 2>/dev/null; }
# inject SCENARIO: starts the fault; heal SCENARIO: ends it. Both return at once.
inject() {
    case $1 in
    kill-*) kill -9 "${PID[${1#kill-}]}"; wait "${PID[${1#kill-}]}" 2>/dev/null; sleep 1
        start_pipeline "${1#kill-}" ;;
    stop-*) kill -STOP "${PID[${1#stop-}]}" ;;
    kafka-kill) kill -9 "$(svc_pid kafka)"; sleep 1; neighbour_up kafka >/dev/null ;;
    kafka-down) devstack down kafka >/dev/null ;;
    clickhouse-down) devstack down clickhouse >/dev/null ;;
    postgres-down) devstack down postgres >/dev/null ;;
    spool-full) devstack down kafka >/dev/null ;;
    esac
}
heal() {
    case $1 in
    stop-*) kill -CONT "${PID[${1#stop-}]}" ;;
    kafka-down | spool-full) neighbour_up kafka >/dev/null || neighbour_up kafka >/dev/null ;;
    clickhouse-down) neighbour_up clickhouse >/dev/null ;;
    postgres-down) devstack up postgres >/dev/null || devstack up postgres >/dev/null ;;
    esac
}
# fault_seconds SCENARIO: how long the fault lasts.
fault_seconds() {
    case $1 in
    kill-* | kafka-kill) echo 6 ;; stop-*) echo 10 ;; spool-full) echo 20 ;; *) echo 30 ;;
    esac
}

# ---- settling and counting ----

# acked API: every event id the API accepted so far (sorted, unique).
acked() { cut -f1 "$TMP"/acked/"$1".* 2>/dev/null | sort -u; }
# ch_ids: the ids in ClickHouse of this run's events (both tables; views' own events apart).
ch_ids() {
    q "SELECT toString(event_id) FROM events UNION ALL SELECT toString(event_id) FROM views
       WHERE type != 'movie.view' FORMAT TabSeparated" | sort -u
}
kafka_ids() {
    local t
    for t in "$UGCFLOW_STAT_EVENTS_TOPIC" "$UGCFLOW_STAT_VIEWS_TOPIC"; do
        kcat -b "$UGCFLOW_KAFKA_BROKERS" -C -t "$t" -o beginning -e -q -f '%s\n' 2>/dev/null
    done | grep -o '"event_id": *"[0-9a-f-]*"' | grep -o '[0-9a-f-]\{36\}' | sort -u
}
# settled: the deployment caught up: nothing waits in the outbox, the spools or the consumers,
# and PostgreSQL and ClickHouse agree.
settled() {
    local p
    for p in "${PIPELINES[@]}"; do kill -0 "${PID[$p]}" 2>/dev/null || return 1; done
    [ "$(pgq "SELECT count(*) FROM $DB.outbox")" = 0 ] || return 1
    [ "$(metric_sum spool_records)" = 0 ] || return 1
    [ "$(metric_sum kafka_consumer_lag_messages)" = 0 ] || return 1
    [ "$(comm -23 <({ acked stat; acked ugc; } | sort -u) <(ch_ids) | wc -l)" = 0 ] || return 1
    "$BIN" reconcile "$SRC/pipeline.yaml" >"$TMP/reconcile.out" 2>&1
}
# wait_settled SECONDS: recovery time in seconds, or -1 when it did not settle in time.
wait_settled() {
    local t0=$SECONDS
    until settled; do
        [ $((SECONDS - t0)) -lt "$1" ] || { echo -1; return; }
        sleep 1
    done
    echo $((SECONDS - t0))
}
# count_scenario: the scenario's figures as one JSON object on stdout.
count_scenario() {
    local ch kafka all_acked lost lost_kafka dup extra views
    all_acked=$(mktemp "$TMP/x.XXXX"); ch=$(mktemp "$TMP/x.XXXX"); kafka=$(mktemp "$TMP/x.XXXX")
    { acked stat; acked ugc; } | sort -u >"$all_acked"
    ch_ids >"$ch"
    kafka_ids >"$kafka"
    lost=$(comm -23 "$all_acked" "$ch" | wc -l)
    lost_kafka=$(comm -23 <(acked stat) "$kafka" | wc -l)
    dup=$(q "SELECT (SELECT count() FROM events FINAL) - (SELECT uniqExact(event_id) FROM events)
             + (SELECT count() FROM views FINAL) - (SELECT uniqExact(event_id) FROM views)")
    extra=$(comm -13 "$all_acked" "$ch" | wc -l)
    # views detected so far (a view's id is a UUIDv5 of its session: one per session by design;
    # a playback split by a restart is tests/it_view_detector.c's)
    views=$(q "SELECT count() FROM views FINAL WHERE type = 'movie.view'")
    jq -n --arg sc "$SC" --argjson acked "$(($(wc -l <"$all_acked") - ACKED_BEFORE))" \
        --argjson lost "$((lost - LOST_BEFORE))" --argjson lost_kafka "$lost_kafka" \
        --argjson dup "$((dup - DUP_BEFORE))" --argjson extra "$((extra - EXTRA_BEFORE))" \
        --argjson views "$views" \
        '{scenario: $sc, accepted: $acked, lost: $lost, lost_in_kafka: $lost_kafka,
          duplicated: $dup, extra: $extra, views_total: $views}'
    ACKED_BEFORE=$(wc -l <"$all_acked")
    EXTRA_BEFORE=$extra LOST_BEFORE=$lost DUP_BEFORE=$dup
    rm -f "$all_acked" "$ch" "$kafka"
}
