#!/usr/bin/env bash
# tests/it_devstack.sh: smoke test of the dev stack (script/dev-stack) as ugcflow uses it.
# Checks, against the addresses in the environment: a row written to and read back from
# PostgreSQL; a message produced to Kafka the way the kafka sink does (librdkafka, idempotent,
# zstd), consumed through a consumer group whose committed offsets are then checked; a row
# inserted into and selected from ClickHouse over HTTP. Every check gets its own table, topic
# and group (random suffix), removed at the end. It does not start the stack: run
# `script/dev-stack up` and `eval "$(script/dev-stack env)"` first. A missing address fails
# loudly; nothing is skipped. Waits poll against a deadline; no fixed sleeps.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVSTACK=${UGCFLOW_DEVSTACK:-$ROOT/script/dev-stack} # the stack under test
for v in UGCFLOW_PG_DSN UGCFLOW_KAFKA_BROKERS UGCFLOW_CH_URL; do
    if [ -z "${!v:-}" ]; then
        echo "it_devstack: $v is not set; run: eval \"\$(script/dev-stack env)\"" >&2
        exit 1
    fi
done

SUFFIX=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
TABLE=it_devstack_$SUFFIX
TOPIC=it.devstack.$SUFFIX
GROUP=it-devstack-$SUFFIX
KCAT=(kcat -b "$UGCFLOW_KAFKA_BROKERS" -X socket.timeout.ms=10000 -m 10)
passed=0
failed=0

check()
{
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
        passed=$((passed + 1))
    else
        echo "FAILED: $what"
        failed=$((failed + 1))
    fi
}

cleanup()
{
    psql "$UGCFLOW_PG_DSN" -XAtqc "drop table if exists $TABLE" >/dev/null 2>&1
    curl -fsS "$UGCFLOW_CH_URL/" --data-binary "DROP TABLE IF EXISTS ugcflow.$TABLE" >/dev/null 2>&1
    "$DEVSTACK" kafka-topics --delete --if-exists --topic "$TOPIC" >/dev/null 2>&1
}
trap cleanup EXIT

# ---- PostgreSQL ----------------------------------------------------------------------------

pg() { psql "$UGCFLOW_PG_DSN" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

pg_roundtrip()
{
    pg "create table $TABLE (id int primary key, body text not null)" &&
        pg "insert into $TABLE values (1, 'hello $SUFFIX')" &&
        [ "$(pg "select body from $TABLE where id = 1")" = "hello $SUFFIX" ]
}

echo "== PostgreSQL at $(sed -E 's#(//[^:/@]*:)[^@]*@#\1***@#' <<<"$UGCFLOW_PG_DSN")"
check "postgres: create table $TABLE, insert a row, read it back" pg_roundtrip

# ---- Kafka ---------------------------------------------------------------------------------

# produce KEY...: one message per key; the values are long and repetitive so that librdkafka
# really compresses the batch (it sends a batch uncompressed when zstd would not shrink it).
produce()
{
    local pad k
    pad=$(printf 'ugcflow-%.0s' $(seq 40))
    for k in "$@"; do printf '%s:%s\n' "$k" "$pad"; done |
        "${KCAT[@]}" -P -t "$TOPIC" -K : -X enable.idempotence=true -X compression.codec=zstd \
            -X acks=all -X linger.ms=20
}

# consume_group: consume through group $GROUP until EOF on every partition; offsets are
# committed when kcat closes the consumer. Prints the keys read.
consume_group()
{
    "${KCAT[@]}" -G "$GROUP" -X auto.offset.reset=earliest -X enable.auto.commit=true \
        -e -q -f '%k\n' "$TOPIC" 2>/dev/null
}

topic_ready()
{
    local deadline=$((SECONDS + 20))
    while [ $SECONDS -lt $deadline ]; do
        "${KCAT[@]}" -L -t "$TOPIC" 2>/dev/null | grep -q "topic \"$TOPIC\" with 2 partitions" &&
            return 0
        sleep 0.2
    done
    return 1
}

# committed_total: sum of the offsets $GROUP committed on $TOPIC, from the broker's admin CLI.
committed_total()
{
    "$DEVSTACK" kafka-groups --describe --group "$GROUP" 2>/dev/null |
        awk -v t="$TOPIC" '$2 == t && $4 ~ /^[0-9]+$/ { s += $4 } END { print s + 0 }'
}

kafka_first_read()
{
    local got
    got=$(consume_group | sort | tr '\n' ' ')
    [ "$got" = "one-$SUFFIX three-$SUFFIX two-$SUFFIX " ] || { echo "  read: '$got'"; return 1; }
}

kafka_second_read()
{
    local got
    got=$(consume_group | tr '\n' ' ')
    [ "$got" = "four-$SUFFIX " ] || { echo "  read: '$got'"; return 1; }
}

kafka_nothing_new() { [ -z "$(consume_group)" ]; }

kafka_committed() { [ "$(committed_total)" = 4 ]; }

echo "== Kafka at $UGCFLOW_KAFKA_BROKERS (topic $TOPIC, group $GROUP)"
check "kafka: create topic $TOPIC (2 partitions) with the broker's admin CLI" \
    "$DEVSTACK" kafka-topics --create --topic "$TOPIC" --partitions 2 \
    --replication-factor 1
check "kafka: metadata lists the broker and the new topic" topic_ready
check "kafka: idempotent zstd produce of 3 messages" produce "one-$SUFFIX" "two-$SUFFIX" \
    "three-$SUFFIX"
check "kafka: group $GROUP consumes the 3 messages and commits" kafka_first_read
check "kafka: produce a 4th message" produce "four-$SUFFIX"
check "kafka: the group resumes at its committed offsets (reads only the 4th)" kafka_second_read
check "kafka: the group has nothing new to read" kafka_nothing_new
check "kafka: committed offsets add up to 4 (admin CLI)" kafka_committed

# ---- ClickHouse ----------------------------------------------------------------------------

ch() { curl -fsS --max-time 10 "$UGCFLOW_CH_URL/" --data-binary "$1"; }

ch_roundtrip()
{
    ch "CREATE TABLE ugcflow.$TABLE (id UInt32, body String) ENGINE = MergeTree ORDER BY id" &&
        ch "INSERT INTO ugcflow.$TABLE VALUES (1, 'hello $SUFFIX')" &&
        [ "$(ch "SELECT body FROM ugcflow.$TABLE WHERE id = 1")" = "hello $SUFFIX" ]
}

echo "== ClickHouse at $UGCFLOW_CH_URL"
check "clickhouse: SELECT 1" test "$(ch 'SELECT 1')" = 1
check "clickhouse: create ugcflow.$TABLE, insert a row, select it" ch_roundtrip

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
