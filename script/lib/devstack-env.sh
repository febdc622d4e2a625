# script/lib/devstack-env.sh: the dev stack's addresses, in one place.
# Sourced (never run) by script/dev-stack and by anything else that needs the addresses of the
# local PostgreSQL, Kafka and ClickHouse. It only fills in UGCFLOW_* variables that are not
# already set, so any of them can be overridden from the environment; it starts nothing.
# Every service listens on 127.0.0.1 only, on fixed non-default ports.

: "${UGCFLOW_PG_PORT:=55432}"
: "${UGCFLOW_PG_DSN:=postgresql://ugcflow:ugcflow@127.0.0.1:${UGCFLOW_PG_PORT}/ugcflow}"

: "${UGCFLOW_KAFKA_PORT:=19092}"
: "${UGCFLOW_KAFKA_CONTROLLER_PORT:=19093}"
: "${UGCFLOW_KAFKA_BROKERS:=127.0.0.1:${UGCFLOW_KAFKA_PORT}}"
: "${UGCFLOW_KAFKA_EVENTS_PARTITIONS:=1}"
: "${UGCFLOW_KAFKA_VIEWS_PARTITIONS:=1}"

: "${UGCFLOW_CH_HTTP_PORT:=18123}"
: "${UGCFLOW_CH_TCP_PORT:=19000}"
: "${UGCFLOW_CH_URL:=http://127.0.0.1:${UGCFLOW_CH_HTTP_PORT}}"

# The variables `script/dev-stack env` prints, in this order.
UGCFLOW_DEVSTACK_VARS=(
    UGCFLOW_PG_PORT UGCFLOW_PG_DSN
    UGCFLOW_KAFKA_PORT UGCFLOW_KAFKA_CONTROLLER_PORT UGCFLOW_KAFKA_BROKERS
    UGCFLOW_KAFKA_EVENTS_PARTITIONS UGCFLOW_KAFKA_VIEWS_PARTITIONS
    UGCFLOW_CH_HTTP_PORT UGCFLOW_CH_TCP_PORT UGCFLOW_CH_URL
)
