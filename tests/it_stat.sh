#!/usr/bin/env bash
# tests/it_stat.sh: the stat pipeline of pipeline.yaml end to end against the dev stack's Kafka
# and PostgreSQL: 1. events, page views and player events answered 202 and consumed back with
# the expected topic, key and content, a movie.view, the resume position, invalid input
# rejected and not published; 2. Kafka stopped mid-test: still 202 (spooled), every event
# delivered once it is back; 3. SIGKILL while spooling: the spool is replayed, none lost.
# Own topics, spool and table per run. It stops and starts Kafka, so run it under the devstack
# lock: flock /tmp/ugcflow-devstack.lock ctest --test-dir build -L integration
set -euo pipefail
: "${UGCFLOW_BIN:?UGCFLOW_BIN must name the ugcflow binary}"
: "${UGCFLOW_SOURCE_DIR:?UGCFLOW_SOURCE_DIR must name the source tree}"
SRC=$UGCFLOW_SOURCE_DIR
DEVSTACK=${UGCFLOW_DEVSTACK:-$SRC/script/dev-stack}
[ -x "$DEVSTACK" ] || { echo "it_stat: FAIL: no dev-stack script at $DEVSTACK" >&2; exit 1; }
. "$(dirname "$DEVSTACK")/lib/devstack-env.sh"
BUILD=$(dirname "$UGCFLOW_BIN")
RUN=$$-$(date +%s)
TMP=$(mktemp -d /tmp/it-stat-XXXXXX)
LOG=$TMP/stat.log
SECRET=it-stat-secret-it-stat-secret-it-stat-secret
USER_ID=0192f0c1-1111-7222-8333-$(printf '%012d' $$)
MOVIE=0192f0c1-aaaa-7bbb-8ccc-ddddeeeeffff
PSQL=(psql -qAt "$UGCFLOW_PG_DSN")
export UGCFLOW_JWT_SECRET=$SECRET UGCFLOW_ADMIN=127.0.0.1:0 UGCFLOW_STAT_ADMIN=127.0.0.1:0
# Load from one address and a few users: rate limits far above it (pipeline.yaml's defaults
# are per real client).
export UGCFLOW_STAT_RATE_LIMIT=10000000 UGCFLOW_STAT_RATE_BURST=10000000
export UGCFLOW_UGC_WRITE_RATE_LIMIT=10000000 UGCFLOW_UGC_WRITE_RATE_BURST=10000000
export UGCFLOW_STAT_LISTEN=127.0.0.1:0 UGCFLOW_SPOOL_DIR=$TMP/spool
export UGCFLOW_STAT_EVENTS_TOPIC=it-stat-events-$RUN UGCFLOW_STAT_VIEWS_TOPIC=it-stat-views-$RUN
export UGCFLOW_UGC_SCHEMA=it_stat_${RUN//-/_} UGCFLOW_SHUTDOWN_TIMEOUT=10s
STAT= ADMIN= API=

fail() { echo "it_stat: FAIL: $*" >&2; tail -30 "$LOG" >&2 || true; exit 1; }
say() { echo "it_stat: $*"; }
cleanup() {
    [ -n "$STAT" ] && kill -9 "$STAT" 2>/dev/null || true
    "$DEVSTACK" up kafka >/dev/null 2>&1 || true
    "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_EVENTS_TOPIC" 2>/dev/null || true
    "$BUILD/stat_topic" delete "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_VIEWS_TOPIC" 2>/dev/null || true
    "${PSQL[@]}" -c "DROP SCHEMA IF EXISTS $UGCFLOW_UGC_SCHEMA CASCADE" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
jwt() {
    local h p s
    h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
    p=$(printf '{"sub":"%s","exp":%d}' "$1" $(($(date +%s) + 3600)) | b64url)
    s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$SECRET" -binary | b64url)
    printf '%s.%s.%s' "$h" "$p" "$s"
}
TOKEN=$(jwt "$USER_ID")

# metric NAME COMPONENT: a component metric's value from the admin listener.
metric() {
    curl -sf "http://$ADMIN/metrics" |
        sed -n "s/^ugcflow_component_$1{[^}]*component=\"$2\"[^}]*} \([0-9.e+-]*\)$/\1/p" | head -1
}

# wait_for SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

start_stat() {
    : >"$LOG"
    "$UGCFLOW_BIN" run "$SRC/pipeline.yaml" --pipeline stat >>"$LOG" 2>&1 &
    STAT=$!
    wait_for 30 grep -q 'msg=Running.' "$LOG" || fail "stat did not start"
    ADMIN=127.0.0.1:$(sed -n 's/.*msg=Running\..*admin_port=\([0-9]*\).*/\1/p' "$LOG" | head -1)
    API=http://127.0.0.1:$(metric http_listen_port api)/api/v1
    [ "$API" != "http://127.0.0.1:/api/v1" ] || fail "no http port in the metrics"
}

# post PATH BODY [TOKEN]: prints "STATUS BODY".
post() {
    local auth=()
    [ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $3")
    curl -s -o "$TMP/reply" -w '%{http_code}' -H 'Content-Type: application/json' "${auth[@]}" \
        --data-binary "$2" "$API$1"
    printf ' %s\n' "$(cat "$TMP/reply")"
}

expect() { # expect "STATUS BODY-SUBSTRING" PATH BODY [TOKEN]
    local want=$1 got
    shift
    got=$(post "$@")
    case "$got" in "$want"*) ;; *) fail "POST $1 $2: got '$got', expected '$want...'" ;; esac
}

# consume TOPIC: every message of the topic as "key<TAB>value" lines.
consume() {
    kcat -C -b "$UGCFLOW_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%k\t%s\n' 2>/dev/null
}

"$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_EVENTS_TOPIC" 2 || fail "topic"
"$BUILD/stat_topic" create "$UGCFLOW_KAFKA_BROKERS" "$UGCFLOW_STAT_VIEWS_TOPIC" 2 || fail "topic"
start_stat

# ---- 1. content, topics, keys, progress, invalid input ----
expect '202 {"accepted":1}' /events '{"type":"click","props":{"k":"v","n":1},"anonymous_id":"anon-1","session_id":"s-a"}'
expect '202 {"accepted":2}' /events '[{"type":"like.added","movie_id":"'$MOVIE'","user_id":"forged"},{"type":"x.y","session_id":"s-r"}]' "$TOKEN"
expect '202 {"accepted":1}' /views '{"url":"/movies/1","session_id":"s-v","referrer":"/"}'
expect '202 {"accepted":1}' /player '{"movie_id":"'$MOVIE'","session_id":"p1","event":"play","position_s":10,"duration_s":600}' "$TOKEN"
expect '202 {"accepted":1}' /player '{"movie_id":"'$MOVIE'","session_id":"p1","event":"progress","position_s":25,"duration_s":600}' "$TOKEN"
expect '202 {"accepted":1}' /player '{"movie_id":"'$MOVIE'","session_id":"p1","event":"complete","position_s":600,"duration_s":600}' "$TOKEN"
expect '422 {"error":{"code":"invalid_field"' /events '{"type":"Bad Type"}'
expect '422 {"error":{"code":"invalid_field","message":"events[1].type' /events '[{"type":"it.mixed.ok"},{"type":"Bad Type"}]'
expect '422 {"error":{"code":"invalid_field"' /player '{"movie_id":"not-a-uuid","session_id":"p","event":"play"}'
expect '422 {"error":{"code":"invalid_field"' /player '{"movie_id":"'$MOVIE'","session_id":"p","event":"rewind"}'
expect '401 {"error":{"code":"invalid_token"' /events '{"type":"a"}' bad.token.here
expect '400 ' /events '{"type":'
big=$(printf '{"type":"t"},%.0s' $(seq 501)); big="[${big%,}]"
expect '413 ' /events "$big"

wait_for 10 sh -c "[ \$(kcat -C -b $UGCFLOW_KAFKA_BROKERS -t $UGCFLOW_STAT_EVENTS_TOPIC -o beginning -e -q 2>/dev/null | wc -l) -ge 3 ]" ||
    fail "events did not reach $UGCFLOW_STAT_EVENTS_TOPIC"
consume "$UGCFLOW_STAT_EVENTS_TOPIC" >"$TMP/events"
[ "$(wc -l <"$TMP/events")" = 3 ] || fail "expected 3 messages in the events topic: $(cat "$TMP/events")"
grep -q $'^anon-1\t{"type":"click","props":{"k":"v","n":1},"anonymous_id":"anon-1","session_id":"s-a","event_id":"' "$TMP/events" ||
    fail "anonymous event content/key: $(cat "$TMP/events")"
grep $'^anon-1\t' "$TMP/events" | grep -q '"ip":"127.0.0.0"' || fail "ip not truncated"
grep $'^anon-1\t' "$TMP/events" | grep -q '"user_id"' && fail "anonymous event has a user_id"
[ "$(grep -c "^$USER_ID"$'\t' "$TMP/events")" = 2 ] || fail "registered events not keyed by user id"
grep '"type":"like.added"' "$TMP/events" | grep '"user_id":"'$USER_ID'"' |
    grep '"event_id":"[0-9a-f-]\{36\}"' | grep -q '"received_at":"[0-9T:.-]*Z"' ||
    fail "registered event content (user_id from the token): $(cat "$TMP/events")"
grep -q 'Bad Type\|"type":"a"\|"type":"t"\|it.mixed.ok' "$TMP/events" && fail "a rejected request was published"

wait_for 10 sh -c "[ \$(kcat -C -b $UGCFLOW_KAFKA_BROKERS -t $UGCFLOW_STAT_VIEWS_TOPIC -o beginning -e -q 2>/dev/null | wc -l) -ge 5 ]" ||
    fail "views did not reach $UGCFLOW_STAT_VIEWS_TOPIC"
consume "$UGCFLOW_STAT_VIEWS_TOPIC" >"$TMP/views"
[ "$(wc -l <"$TMP/views")" = 5 ] || fail "expected 5 messages in the views topic: $(cat "$TMP/views")"
grep -q $'^s-v\t{"url":"/movies/1"' "$TMP/views" || fail "page view key/content"
grep $'^s-v\t' "$TMP/views" | grep -q '"type":"page_view"' || fail "page view type"
[ "$(grep -c '"type":"player"' "$TMP/views")" = 3 ] || fail "player events"
[ "$(grep -c '"type":"movie.view"' "$TMP/views")" = 1 ] || fail "expected one movie.view"
grep '"type":"movie.view"' "$TMP/views" | grep -q '"completed":true' || fail "movie.view completed"

progress() { "${PSQL[@]}" -c "SELECT position_s, completed FROM $UGCFLOW_UGC_SCHEMA.watch_progress WHERE user_id = '$USER_ID' AND movie_id = '$MOVIE'" 2>/dev/null; }
wait_for 2 sh -c "[ \"\$(psql -qAt '$UGCFLOW_PG_DSN' -c \"SELECT position_s || ',' || completed FROM $UGCFLOW_UGC_SCHEMA.watch_progress WHERE user_id = '$USER_ID'\" 2>/dev/null)\" = '600,true' ]" ||
    fail "progress not in PostgreSQL within 2 s: '$(progress)'"
say "1: content, topics, keys, views, progress and invalid input as expected"

# ---- 2. Kafka outage: accepted while down, all delivered once it is back ----
send_batch() { # send_batch FROM TO: one request per marker n, all must be 202
    local n
    for n in $(seq "$1" "$2"); do
        expect '202 {"accepted":1}' /events '{"type":"it.outage","props":{"n":'$n'},"session_id":"o-'$((n % 7))'"}'
    done
}
send_batch 1 50
"$DEVSTACK" down kafka >/dev/null || fail "dev-stack down kafka"
send_batch 51 250
spooled=$(metric spool_records to_events)
[ "${spooled%.*}" -gt 0 ] || fail "nothing was spooled while Kafka was down"
say "2: Kafka down: 200 requests answered 202, $spooled events in the spool"
"$DEVSTACK" up kafka >/dev/null || fail "dev-stack up kafka"
wait_for 120 sh -c "[ \"\$(curl -sf http://$ADMIN/metrics | sed -n 's/^ugcflow_component_spool_records{[^}]*component=\"to_events\"[^}]*} //p')\" = 0 ]" ||
    fail "the spool was not replayed"

# delivered FROM TO: every marker n in FROM..TO is in the topic (distinct event ids counted).
delivered() {
    consume "$UGCFLOW_STAT_EVENTS_TOPIC" >"$TMP/all"
    local want=$(($2 - $1 + 1)) got ids
    got=$(grep -o '"type":"it.outage","props":{"n":[0-9]*}' "$TMP/all" | sort -u |
        sed 's/.*"n":\([0-9]*\)}/\1/' | awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b' | wc -l)
    ids=$(grep '"type":"it.outage"' "$TMP/all" | grep -o '"event_id":"[^"]*"' | sort -u | wc -l)
    echo "$got of $want markers, $ids distinct event ids"
    [ "$got" = "$want" ]
}
wait_for 30 delivered 1 250 >/dev/null || fail "after the outage: $(delivered 1 250)"
say "2: Kafka back: $(delivered 1 250)"

# ---- 3. SIGKILL while spooling, restart: the spool is replayed ----
"$DEVSTACK" down kafka >/dev/null || fail "dev-stack down kafka"
send_batch 251 350
kill -9 "$STAT"
wait "$STAT" 2>/dev/null || true
STAT=
ls "$UGCFLOW_SPOOL_DIR"/stat.events/*.seg >/dev/null 2>&1 || fail "no spool segment left after SIGKILL"
"$DEVSTACK" up kafka >/dev/null || fail "dev-stack up kafka"
start_stat
wait_for 120 delivered 251 350 >/dev/null || fail "after SIGKILL and restart: $(delivered 251 350)"
say "3: SIGKILL while spooling, restart: $(delivered 1 350)"
kill -INT "$STAT"
wait "$STAT" || fail "stat did not stop cleanly"
STAT=
say "PASS"
