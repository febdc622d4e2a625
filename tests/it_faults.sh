#!/usr/bin/env bash
# tests/it_faults.sh: the fault suite's quick form (script/faults --quick): SIGKILL of stat, ugc
# and etl-events and Kafka stopped 30 s, under load from `ugcflow loadgen`, each counted end to
# end (lost, duplicated, extra, UGC errors and p99 during the fault, recovery). Fails unless
# every scenario loses nothing, duplicates nothing and meets its expectations. On a shared CI box
# Kafka, ClickHouse and PostgreSQL share its cores with the APIs: half the full run's stat load,
# and the spec's 200 ms SLO as the UGC p99 floor. Runs under the devstack lock (it stops services).
set -euo pipefail
: "${UGCFLOW_BIN:?UGCFLOW_BIN must name the ugcflow binary}"
: "${UGCFLOW_SOURCE_DIR:?UGCFLOW_SOURCE_DIR must name the source tree}"
report=$(dirname "$UGCFLOW_BIN")/faults-quick-report.json
export UGCFLOW_FAULTS_P99_FLOOR_MS=${UGCFLOW_FAULTS_P99_FLOOR_MS:-200}
export UGCFLOW_FAULTS_STAT_RATE=${UGCFLOW_FAULTS_STAT_RATE:-400}
exec "$UGCFLOW_SOURCE_DIR/script/faults" --quick --report "$report" \
    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
