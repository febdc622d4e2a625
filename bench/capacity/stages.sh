# bench/capacity/stages.sh: the stages of bench/capacity/measure.sh (sourced by it, never run):
# each starts what it measures, prints its figures with fig and stops what it started. The
# helpers (start, loadgen, cpu, topic_bytes, topic_msgs, fig...) and the names of the run's
# schema, topics and database are measure.sh's.

schema_tables() {
    pg "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE nspname = '$SCHEMA' AND relkind = 'r' ORDER BY relname"
}

# The dataset of the pg stage, loaded once per invocation (the ugc stage runs on it too).
ensure_dataset() {
    [ -n "${DATASET_LOADED:-}" ] && return 0
    local u=$CAP_USERS t0
    start migrate ugc # the UGC store applies sql/ugc/migrations at start
    stop_all
    say "  loading: dataset.sql users=$u movies=20000 reactions=$((u * 10)) favorites=$((u * 2))" \
        "comments=$u; more-ugc.sql progress=5 votes=1 per user; auth-model.sql users=$u" \
        "linked=$u logins=$((u * 2))"
    t0=$(date +%s.%N)
    psql -q "$UGCFLOW_PG_DSN" -v schema="$SCHEMA" -v users="$u" -v movies=20000 \
        -v reactions=$((u * 10)) -v favorites=$((u * 2)) -v comments="$u" \
        -f "$ROOT/bench/ugc/dataset.sql"
    psql -q "$UGCFLOW_PG_DSN" -v schema="$SCHEMA" -v users="$u" -v movies=20000 \
        -v comments="$u" -v progress=5 -v votes=1 -f "$DIR/more-ugc.sql"
    psql -q "$UGCFLOW_PG_DSN" -v schema="$SCHEMA" -v users="$u" -v linked="$u" \
        -v logins=$((u * 2)) -f "$DIR/auth-model.sql"
    # Vacuumed and checkpointed now rather than by autovacuum and the checkpointer later.
    local t
    for t in $(schema_tables); do pg "VACUUM ANALYZE $SCHEMA.$t" >/dev/null; done
    pg CHECKPOINT >/dev/null
    say "  loaded in $(calc "$(date +%s.%N) - $t0" 0) s"
    DATASET_LOADED=1
}

stage_pg() {
    say "== pg: tables of a $CAP_USERS-user dataset, schema $SCHEMA (pg_total_relation_size)"
    ensure_dataset
    local t rows total idx
    for t in $(schema_tables); do
        rows=$(pg "SELECT count(*) FROM $SCHEMA.$t")
        read -r total idx < <(pg "SELECT pg_total_relation_size('$SCHEMA.$t'),
                                  pg_indexes_size('$SCHEMA.$t')" | tr '|' ' ')
        fig "pg.$t.rows" "$rows"
        fig "pg.$t.total_bytes" "$total"
        fig "pg.$t.index_bytes" "$idx"
        [ "$rows" -gt 0 ] && fig "pg.$t.bytes_per_row" "$(calc "$total / $rows" 1)"
    done
    fig pg.users "$CAP_USERS"
}

# write_requests REPORT: the UGC requests of a loadgen report that write.
write_requests() {
    jq '[.routes | to_entries[] | select(.key | test("^(like|dislike|reaction_delete|favorite_put|favorite_delete|comment_create|comment_vote_put)$")) | .value] | add' "$1"
}

outbox_empty() { [ "$(pg "SELECT count(*) FROM $SCHEMA.outbox")" = 0 ]; }

# ugc_start: the ugc pipeline, its relay and an etl-events into ClickHouse table ugc_events;
# sets their pids (api, relay, etl: the caller's locals) and url, the API's base.
ugc_start() {
    topic "$T_UGC"
    topic "$T_DLQ"
    ch "CREATE DATABASE IF NOT EXISTS $DB" >/dev/null
    start ugc ugc
    api=$PID url=http://127.0.0.1:$PORT/api/v1
    pg "TRUNCATE $SCHEMA.outbox" >/dev/null
    start relay ugc-outbox
    relay=$PID
    start etl-ugc etl-events UGCFLOW_ETL_EVENTS_TOPIC="$T_UGC" UGCFLOW_ETL_EVENTS_TABLE=ugc_events \
        UGCFLOW_ETL_EVENTS_GROUP="$RUN-ugc"
    etl=$PID
}

stage_ugc() {
    say "== ugc: the ugc pipeline, ugc-outbox and etl-events on that dataset"
    ensure_dataset
    local api relay etl url tag=${RUN}u
    ugc_start
    "$BIN" loadgen "$url" --api ugc --rate 200 --duration 1s --quiet >/dev/null # warm-up
    wait_until "$CAP_WAIT_S" outbox_empty
    local m0 b0 c0 m1 b1 c1
    m0=$(topic_msgs "$T_UGC") b0=$(topic_bytes "$T_UGC")
    c0=$(cpu "$api"; cpu "$relay"; cpu "$etl"; cpu $(pg_pids); cpu "$KPID"; cpu "$CHPID")
    loadgen ugc "$url" "$CAP_UGC_RATE" "$tag"
    wait_until "$CAP_WAIT_S" outbox_empty || say "  the outbox did not empty in ${CAP_WAIT_S} s"
    m1=$(topic_msgs "$T_UGC") b1=$(topic_bytes "$T_UGC")
    wait_until "$CAP_WAIT_S" caught_up ugc_events "$m1" || say "  ClickHouse is behind Kafka"
    c1=$(cpu "$api"; cpu "$relay"; cpu "$etl"; cpu $(pg_pids); cpu "$KPID"; cpu "$CHPID")
    local req writes ev
    req=$(jq .sent "$TMP/$tag.json") writes=$(write_requests "$TMP/$tag.json") ev=$((m1 - m0))
    fig ugc.rate "$CAP_UGC_RATE"
    fig ugc.requests "$req"
    fig ugc.p99_ms "$(jq .latency_ms.p99 "$TMP/$tag.json")"
    fig ugc.errors "$(jq .errors_total "$TMP/$tag.json")"
    fig ugc.write_requests "$writes"
    fig ugc.kafka_events "$ev"
    fig ugc.events_per_write "$(calc "$ev / $writes" 3)"
    fig ugc.kafka_bytes_per_event "$(calc "($b1 - $b0) / $ev" 1)"
    paste <(echo "$c0") <(echo "$c1") | awk -v r="$req" -v e="$ev" '
        { d[NR] = $2 - $1 }
        END { printf "%s %s %s %s %s %s\n", d[1] * 1e5 / r, d[2] * 1e5 / e, d[3] * 1e5 / e,
                     d[4] * 1e5 / r, d[5] * 1e5 / e, d[6] * 1e5 / e }' >"$TMP/ugc.cpu"
    read -r a b c d e f <"$TMP/ugc.cpu"
    fig ugc.api_cpu_s_per_100k_requests "$(calc "$a")"
    fig ugc.relay_cpu_s_per_100k_events "$(calc "$b")"
    fig ugc.etl_cpu_s_per_100k_events "$(calc "$c")"
    fig ugc.postgres_cpu_s_per_100k_requests "$(calc "$d")"
    fig ugc.kafka_cpu_s_per_100k_events "$(calc "$e")"
    fig ugc.clickhouse_cpu_s_per_100k_events "$(calc "$f")"
    stop_all
}

# stat_phase NAME RATE STAT ETL_EVENTS ETL_VIEWS URL: one loadgen run of the stat stage.
stat_phase() {
    local name=$1 rate=$2 stat=$3 ee=$4 ev=$5 url=$6 tag=$RUN$1
    local me0 be0 mv0 bv0 c0 me1 be1 mv1 bv1 c1
    me0=$(topic_msgs "$T_EVENTS") be0=$(topic_bytes "$T_EVENTS")
    mv0=$(topic_msgs "$T_VIEWS") bv0=$(topic_bytes "$T_VIEWS")
    c0=$(cpu "$stat"; cpu "$ee"; cpu "$ev"; cpu "$KPID"; cpu "$CHPID"; cpu $(pg_pids))
    loadgen stat "$url" "$rate" "$tag"
    sleep 1 # the run's last acks and the view detector's last events
    me1=$(topic_msgs "$T_EVENTS") be1=$(topic_bytes "$T_EVENTS")
    mv1=$(topic_msgs "$T_VIEWS") bv1=$(topic_bytes "$T_VIEWS")
    wait_until "$CAP_WAIT_S" caught_up events "$me1" || say "  ClickHouse events behind Kafka"
    wait_until "$CAP_WAIT_S" caught_up views "$mv1" || say "  ClickHouse views behind Kafka"
    c1=$(cpu "$stat"; cpu "$ee"; cpu "$ev"; cpu "$KPID"; cpu "$CHPID"; cpu $(pg_pids))
    local req n_e=$((me1 - me0)) n_v=$((mv1 - mv0))
    req=$(jq .sent "$TMP/$tag.json")
    fig "stat.$name.rate" "$rate"
    fig "stat.$name.requests" "$req"
    fig "stat.$name.p99_ms" "$(jq .latency_ms.p99 "$TMP/$tag.json")"
    fig "stat.$name.errors" "$(jq .errors_total "$TMP/$tag.json")"
    fig "stat.$name.events_topic_messages" "$n_e"
    fig "stat.$name.views_topic_messages" "$n_v"
    fig "stat.$name.tagged_messages" \
        $(($(topic_msgs "$T_EVENTS" "\"tag\":\"$tag\"") + $(topic_msgs "$T_VIEWS" "\"tag\":\"$tag\"")))
    fig "stat.$name.events_kafka_bytes_per_event" "$(calc "($be1 - $be0) / $n_e" 1)"
    fig "stat.$name.views_kafka_bytes_per_event" "$(calc "($bv1 - $bv0) / $n_v" 1)"
    paste <(echo "$c0") <(echo "$c1") | awk -v r="$req" -v e="$n_e" -v v="$n_v" '
        { d[NR] = $2 - $1 }
        END { printf "%s %s %s %s %s %s\n", d[1] * 1e5 / r, d[2] * 1e5 / e, d[3] * 1e5 / v,
                     d[4] * 1e5 / (e + v), d[5] * 1e5 / (e + v), d[6] * 1e5 / r }' >"$TMP/stat.cpu"
    read -r a b c d e f <"$TMP/stat.cpu"
    fig "stat.$name.api_cpu_s_per_100k_requests" "$(calc "$a")"
    fig "stat.$name.etl_events_cpu_s_per_100k_events" "$(calc "$b")"
    fig "stat.$name.etl_views_cpu_s_per_100k_events" "$(calc "$c")"
    fig "stat.$name.kafka_cpu_s_per_100k_events" "$(calc "$d")"
    fig "stat.$name.clickhouse_cpu_s_per_100k_events" "$(calc "$e")"
    fig "stat.$name.postgres_cpu_s_per_100k_requests" "$(calc "$f")"
}

stage_stat() {
    say "== stat: the stat pipeline, etl-events and etl-views (topics of 1 partition)"
    topic "$T_EVENTS"
    topic "$T_VIEWS"
    topic "$T_DLQ"
    ch "CREATE DATABASE IF NOT EXISTS $DB" >/dev/null
    start stat stat
    local stat=$PID url=http://127.0.0.1:$PORT/api/v1
    start etl-events etl-events UGCFLOW_ETL_EVENTS_TOPIC="$T_EVENTS" UGCFLOW_ETL_EVENTS_GROUP="$RUN-e"
    local ee=$PID
    start etl-views etl-views UGCFLOW_ETL_VIEWS_TOPIC="$T_VIEWS" UGCFLOW_ETL_VIEWS_GROUP="$RUN-v"
    local ev=$PID
    "$BIN" loadgen "$url" --rate 200 --duration 1s --quiet >/dev/null # warm-up
    stat_phase mean "$CAP_MEAN_RATE" "$stat" "$ee" "$ev" "$url"
    stat_phase peak "$CAP_PEAK_RATE" "$stat" "$ee" "$ev" "$url"
    say "  rows by type in ClickHouse (both runs and the warm-up):"
    ch "SELECT type, count() FROM $DB.views GROUP BY type UNION ALL
        SELECT 'generic', count() FROM $DB.events UNION ALL
        SELECT 'player_open', count() FROM $DB.views WHERE event = 'open' FORMAT TSV" |
        while read -r t n; do
        fig "stat.rows.$t" "$n"
    done
    stop_all
}

stage_ch() {
    say "== ch: bytes per row in ClickHouse (after OPTIMIZE FINAL; system.parts, system.columns)"
    local t rows disk comp raw
    for t in $(ch "SELECT name FROM system.tables WHERE database = '$DB' AND engine LIKE '%MergeTree'
                   ORDER BY name"); do
        ch "OPTIMIZE TABLE $DB.$t FINAL" >/dev/null
        read -r rows disk comp raw < <(ch "SELECT sum(rows), sum(bytes_on_disk),
            sum(data_compressed_bytes), sum(data_uncompressed_bytes) FROM system.parts
            WHERE database = '$DB' AND table = '$t' AND active FORMAT TSV")
        [ "${rows:-0}" -gt 0 ] || continue
        fig "ch.$t.rows" "$rows"
        fig "ch.$t.bytes_on_disk" "$disk"
        fig "ch.$t.bytes_per_row" "$(calc "$disk / $rows" 1)"
        fig "ch.$t.uncompressed_bytes_per_row" "$(calc "$raw / $rows" 1)"
        say "  $t, compressed bytes per row by column (system.columns):" \
            "$(ch "SELECT arrayStringConcat(groupArray(concat(name, ' ',
                       toString(round(data_compressed_bytes / $rows, 1)))), ', ')
                   FROM (SELECT name, data_compressed_bytes FROM system.columns
                         WHERE database = '$DB' AND table = '$t'
                         ORDER BY data_compressed_bytes DESC)")"
    done
}

# emitted ADMIN_PORT: the events the kafka source named consume has emitted so far.
emitted() {
    curl -sf "http://127.0.0.1:$1/metrics" 2>/dev/null |
        awk '/^ugcflow_component_sent_events_total.*component="consume"/ { n = $2 } END { print n + 0 }'
}

stage_part() {
    say "== part: one partition's rate (etl_produce fills it; etl-views drains it)"
    local n=$CAP_PART_EVENTS t0 t1 etl first=
    ch "CREATE DATABASE IF NOT EXISTS $DB" >/dev/null
    t0=$(date +%s.%N)
    "$BUILD/etl_produce" "$UGCFLOW_KAFKA_BROKERS" "$T_PART" "$n" --partitions 1 --kind views \
        >"$TMP/produce.txt"
    t1=$(date +%s.%N)
    say "  $BUILD/etl_produce $UGCFLOW_KAFKA_BROKERS $T_PART $n --partitions 1 --kind views"
    fig part.produce_events_per_s "$(calc "$n / ($t1 - $t0)" 0)"
    fig part.kafka_bytes_per_event "$(calc "$(topic_bytes "$T_PART") / $n" 1)"
    start etl-part etl-views UGCFLOW_ETL_VIEWS_TOPIC="$T_PART" UGCFLOW_ETL_VIEWS_GROUP="$RUN-p" \
        UGCFLOW_ETL_VIEWS_TABLE=views_part
    etl=$PID
    # The clock starts at the source's first message (after the group's join), as in
    # bench/etl/run.sh's first_event_rows_per_s, and stops when ClickHouse holds every row.
    local c0 rows=0
    c0=$(cpu "$etl")
    for _ in $(seq 1200); do # 0.05 s each: at most a minute
        if [ -z "$first" ] && [ "$(emitted "$ADMIN")" -gt 0 ]; then first=$(date +%s.%N); fi
        rows=$(ch_rows views_part)
        [ "$rows" -ge "$n" ] && break
        sleep 0.05
    done
    t1=$(date +%s.%N)
    [ "$rows" -ge "$n" ] || say "  etl-views drained $rows of $n in time"
    fig part.consume_rows_per_s "$(calc "$rows / ($t1 - ${first:-$t1} + 1e-9)" 0)"
    fig part.etl_cpu_s_per_100k_events "$(calc "($(cpu "$etl") - $c0) * 1e5 / $n")"
    stop_all
}
