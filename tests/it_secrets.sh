#!/usr/bin/env bash
# tests/it_secrets.sh: secrets planted in a pipeline (librdkafka properties of the kafka sink and
# source, a URL with user:password, a libpq DSN's password=, a secret-flagged option) appear in
# none of `ugcflow graph`'s formats, `validate`, /api/graph of a running process (which the graph
# page draws), its /metrics, nor its log, while the run really uses them against the dev
# stack's Kafka. Its own topic and group; admin and listeners on port 0.
set -euo pipefail
: "${UGCFLOW_BIN:?UGCFLOW_BIN must name the ugcflow binary}"
: "${UGCFLOW_SOURCE_DIR:?UGCFLOW_SOURCE_DIR must name the source tree}"
. "$UGCFLOW_SOURCE_DIR/script/lib/devstack-env.sh"
TMP=$(mktemp -d /tmp/it-secrets-XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "it_secrets: FAIL: $*" >&2; tail -20 "$TMP/run.log" >&2 || true; exit 1; }
P=PlantedSecret$$
printf '%s-file-0123456789abcdef0123456789\n' "$P" >"$TMP/hmac"
cat >"$TMP/p.yaml" <<YAML
pipelines:
  sec:
    components:
      gen: {kind: generate, count: 20, rate: 100}
      auth: {kind: jwt_auth, inputs: [gen], mode: none, secret_file: $TMP/hmac}
      out:
        kind: kafka
        inputs: [auth]
        brokers: $UGCFLOW_KAFKA_BROKERS
        topic: it.secrets.$$
        spool_dir: $TMP/spool
        properties: {ssl.key.password: $P-a, sasl.password: $P-b, ssl.keystore.password: $P-c,
                     sasl.username: ugc, client.id: "http://u:$P-e@h/"}
      fwd:
        kind: http_forward
        inputs: [auth]
        url: "http://ugc:$P-f@127.0.0.1:9/in?token=$P-g"
        spool_dir: $TMP/fwd
      src:
        kind: kafka_source
        brokers: $UGCFLOW_KAFKA_BROKERS
        topics: [it.secrets.$$]
        group: it-secrets-$$
        id_field: ""
        dlq_file: $TMP/dlq
        dead_letter: file
        librdkafka: {sasl.password: $P-h, client.id: "host=db password=$P-i"}
      sink: {kind: null, inputs: [src]}
YAML
check() { # WHAT FILE: the file must not contain the planted secret
    if grep -q "$P" "$2"; then fail "$1 shows a secret: $(grep -o ".\{40\}$P.\{10\}" "$2" | head -3)"; fi
}
"$UGCFLOW_BIN" validate "$TMP/p.yaml" >"$TMP/validate.out" 2>&1 || fail "invalid: $(cat "$TMP/validate.out")"
check validate "$TMP/validate.out"
for f in json dot mermaid; do
    "$UGCFLOW_BIN" graph "$TMP/p.yaml" --format "$f" >"$TMP/graph.$f" 2>&1 || fail "graph $f"
    check "graph --format $f" "$TMP/graph.$f"
done
grep -q '"sasl.password": "\*\*\*"' "$TMP/graph.json" || fail "graph json masks nothing: $(head -c 600 "$TMP/graph.json")"

"$(dirname "$UGCFLOW_BIN")/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" it.secrets.$$ 1 >/dev/null ||
    fail "topic"
"$UGCFLOW_BIN" run "$TMP/p.yaml" --admin 127.0.0.1:0 --log-level debug >"$TMP/run.log" 2>&1 &
PID=$!
deadline=$((SECONDS + 20))
until grep -q 'msg=Running.' "$TMP/run.log"; do
    [ $SECONDS -lt $deadline ] || fail "not running"
    kill -0 "$PID" 2>/dev/null || fail "exited"
    sleep 0.1
done
ADMIN=127.0.0.1:$(sed -n 's/.*msg=Running.*admin_port=\([0-9]*\).*/\1/p' "$TMP/run.log")
# The generated events reach Kafka and come back through the source: the properties are in use.
until curl -sf "http://$ADMIN/metrics" | grep -q 'ugcflow_component_sent_events_total{pipeline="sec",component="src",kind="kafka_source"} [1-9]'; do
    [ $SECONDS -lt $((deadline + 20)) ] || fail "nothing came back through Kafka"
    sleep 0.2
done
curl -sf "http://$ADMIN/api/graph" >"$TMP/api.json" || fail "/api/graph"
curl -sf "http://$ADMIN/metrics" >"$TMP/metrics" || fail "/metrics"
curl -sf "http://$ADMIN/" >"$TMP/page.html" || fail "graph page"
check /api/graph "$TMP/api.json"
check /metrics "$TMP/metrics"
check "graph page" "$TMP/page.html"
jq -e '.pipelines[0].nodes[] | select(.name=="fwd") | .options.url == "http://ugc:***@127.0.0.1:9/in?token=***"' \
    "$TMP/api.json" >/dev/null || fail "fwd url: $(jq -c '.pipelines[0].nodes[] | select(.name=="fwd") | .options.url' "$TMP/api.json")"
kill -TERM "$PID"
wait "$PID" || true
PID=
check log "$TMP/run.log"
grep -q 'kind=http_forward' "$TMP/run.log" || fail "http_forward logged nothing (its failures are what is checked)"
echo "it_secrets: ok"
