#!/usr/bin/env bash
# tests/it_ugc.sh: the `ugc` pipeline of pipeline.yaml end to end, over real HTTP, against the
# dev stack's PostgreSQL: every endpoint and its statuses, auth failures, 50 concurrent likes
# by one user (one row, consistent counts), delete rights, pagination walking every comment
# once, PostgreSQL stopped (503 with Retry-After) and restarted (recovers without restarting
# ugcflow), and each write's analytics event in the outbox with the id its reply carries (no
# relay runs: the UGC latency does not depend on one).
# Each run uses its own PostgreSQL schema, ports and spool. Run under the devstack lock:
#   flock -o /tmp/ugcflow-devstack.lock ctest --test-dir build -L integration
set -euo pipefail
: "${UGCFLOW_BIN:?UGCFLOW_BIN must name the ugcflow binary}"
: "${UGCFLOW_SOURCE_DIR:?UGCFLOW_SOURCE_DIR must name the source tree}"
SRC=$UGCFLOW_SOURCE_DIR
. "$SRC/script/lib/devstack-env.sh"
DEVSTACK_BIN=${UGCFLOW_DEVSTACK:-$SRC/script/dev-stack}
# Services it restarts must not inherit our descriptors (a caller's lock among them).
devstack() { "$DEVSTACK_BIN" "$@" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; }
TMP=$(mktemp -d /tmp/it-ugc-XXXXXX)
SCHEMA=it_ugc_$$
export UGCFLOW_JWT_SECRET=it-ugc-secret-0123456789abcdef0123456789
# Load from one address and a few users: rate limits far above it (pipeline.yaml's defaults
# are per real client).
export UGCFLOW_STAT_RATE_LIMIT=10000000 UGCFLOW_STAT_RATE_BURST=10000000
export UGCFLOW_UGC_WRITE_RATE_LIMIT=10000000 UGCFLOW_UGC_WRITE_RATE_BURST=10000000
export UGCFLOW_UGC_SCHEMA=$SCHEMA UGCFLOW_UGC_LISTEN=127.0.0.1:0 UGCFLOW_UGC_ADMIN=127.0.0.1:0
export UGCFLOW_ADMIN=127.0.0.1:0 UGCFLOW_SPOOL_DIR=$TMP/spool UGCFLOW_SHUTDOWN_TIMEOUT=5s
UGC=
PASS=0

fail() {
    echo "it_ugc: FAIL: $*" >&2
    tail -15 "$TMP/ugc.log" >&2 || true
    exit 1
}
ok() { PASS=$((PASS + 1)); }
cleanup() {
    [ -n "$UGC" ] && kill -9 "$UGC" 2>/dev/null || true
    devstack up postgres >/dev/null 2>&1 || true
    psql -q "$UGCFLOW_PG_DSN" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# ---- tokens: good ones from `ugcflow token`, broken ones by hand (HS256 with openssl) ----
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$2" -binary | b64url; }
# jwt SUB [ROLES] [EXP_OFFSET_S] [ALG] [SECRET]
jwt() {
    local now h p
    now=$(date +%s)
    h=$(printf '{"alg":"%s","typ":"JWT"}' "${4:-HS256}" | b64url)
    p=$(printf '{"sub":"%s","roles":%s,"iat":%d,"exp":%d}' "$1" "${2:-[]}" "$now" \
        $((now + ${3:-3600})) | b64url)
    if [ "${4:-HS256}" = none ]; then printf '%s.%s.' "$h" "$p"; return; fi
    printf '%s.%s.%s' "$h" "$p" "$(sign "$h.$p" "${5:-$UGCFLOW_JWT_SECRET}")"
}

# ---- processes ----
port_of() { # LOG COMPONENT_MSG: waits for the "Listening." line and prints its port
    local deadline=$((SECONDS + 20))
    until grep -q 'msg=Listening.' "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || fail "no listener in $1"
        sleep 0.1
    done
    grep 'msg=Listening.' "$1" | tail -1 | sed 's/.*port=\([0-9]*\).*/\1/'
}
start_ugc() {
    "$UGCFLOW_BIN" run "$SRC/pipeline.yaml" --pipeline ugc >"$TMP/ugc.log" 2>&1 &
    UGC=$!
    PORT=$(port_of "$TMP/ugc.log")
    B=http://127.0.0.1:$PORT/api/v1
}

# ---- requests ----
# req EXPECTED_STATUS METHOD PATH [TOKEN] [JSON]: body in $TMP/out, headers in $TMP/hdr
req() {
    local args=(-s -o "$TMP/out" -D "$TMP/hdr" -w '%{http_code}' -X "$2" "$B$3")
    [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $4")
    [ -n "${5:-}" ] && args+=(-H 'Content-Type: application/json' -d "$5")
    local got
    got=$(curl "${args[@]}")
    [ "$got" = "$1" ] || fail "$2 $3: status $got, expected $1: $(cat "$TMP/out")"
    ok
}
field() { jq -r "$1" "$TMP/out"; }
count() { psql -qtA "$UGCFLOW_PG_DSN" -c "SET search_path TO $SCHEMA; $1" | tail -1; }

U1=0190a5c4-0000-7000-8000-0000000000a1
U2=0190a5c4-0000-7000-8000-0000000000a2
ADM=0190a5c4-0000-7000-8000-0000000000ad
M=0190a5c4-0000-7000-8000-00000000f001
M2=0190a5c4-0000-7000-8000-00000000f002
T1=$("$UGCFLOW_BIN" token --sub $U1)
T2=$("$UGCFLOW_BIN" token --sub $U2 --ttl 15m)
TA=$("$UGCFLOW_BIN" token --sub $ADM --roles admin)

start_ugc

# 1. Reactions.
req 404 DELETE /movies/$M/reaction "$T1"
req 201 POST /movies/$M/like "$T1"
[ "$(field .reaction)" = like ] || fail "like body: $(cat "$TMP/out")"
req 200 POST /movies/$M/like "$T1"
req 200 GET /movies/$M/reaction "$T1"
[ "$(field .liked)" = true ] || fail "liked: $(cat "$TMP/out")"
req 200 POST /movies/$M/dislike "$T1"
req 200 GET /movies/$M/reactions
[ "$(field '.likes,.dislikes' | tr '\n' ' ')" = "0 1 " ] || fail "counts: $(cat "$TMP/out")"
req 204 DELETE /movies/$M/reaction "$T1"
req 200 GET /movies/$M/reaction "$T1"
[ "$(field .reaction)" = null ] || fail "reaction after delete: $(cat "$TMP/out")"

# 2. Auth failures, bad input, unknown routes.
req 401 POST /movies/$M/like
grep -qi '^WWW-Authenticate: Bearer' "$TMP/hdr" || fail "401 without WWW-Authenticate"
req 401 POST /movies/$M/like "$(jwt $U1 '[]' 3600 HS256 wrong-secret-wrong-secret-wrong-secret)"
req 401 POST /movies/$M/like "$(jwt $U1 '[]' -600)"
req 401 POST /movies/$M/like "$(jwt $U1 '[]' 3600 none)"
req 401 POST /movies/$M/like "$(jwt not-a-uuid)"
req 400 POST /movies/not-a-uuid/like "$T1"
req 404 GET /nowhere
req 405 PATCH /favorites/$M "$T1"
grep -qi '^Allow:' "$TMP/hdr" || fail "405 without Allow"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $T1" \
    -H 'Content-Type: text/plain' -d 'hello' "$B/movies/$M/comments")" = 415 ] || fail "no 415"
req 400 POST /movies/$M/comments "$T1" '{"text":'
req 422 POST /movies/$M/comments "$T1" '{"text":""}'
req 422 GET "/movies/$M/comments?limit=0"
req 422 PUT /comments/$M/vote "$T1" '{"value":"sideways"}'
req 413 POST /movies/$M/comments "$T1" "{\"text\":\"$(head -c 70000 /dev/zero | tr '\0' a)\"}"

# 3. 50 concurrent likes by one user on one movie: one row, consistent counts.
seq 50 | xargs -P 50 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
    -H "Authorization: Bearer $T2" "$B/movies/$M2/like" >"$TMP/likes"
[ "$(grep -c '^201$' "$TMP/likes")" = 1 ] || fail "201s: $(sort "$TMP/likes" | uniq -c)"
[ "$(grep -c '^200$' "$TMP/likes")" = 49 ] || fail "200s: $(sort "$TMP/likes" | uniq -c)"
[ "$(count "SELECT count(*) FROM reactions WHERE movie_id = '$M2'")" = 1 ] || fail "rows != 1"
req 200 GET /movies/$M2/reactions
[ "$(field .likes)" = 1 ] || fail "likes after 50 concurrent: $(cat "$TMP/out")"

# 4. Comments: pagination walks every item once; votes; delete rights.
for i in $(seq 1 25); do req 201 POST /movies/$M/comments "$T1" "{\"text\":\"review $i\"}"; done
C1=$(field .id)
for sort in new top; do
    cursor= seen=0
    : >"$TMP/ids"
    while :; do
        req 200 GET "/movies/$M/comments?limit=7&sort=$sort${cursor:+&cursor=$cursor}"
        field '.items[].id' >>"$TMP/ids"
        cursor=$(field '.next_cursor // empty')
        [ -n "$cursor" ] || break
    done
    [ "$(sort "$TMP/ids" | uniq | wc -l)" = 25 ] || fail "$sort walk: distinct ids"
    [ "$(wc -l <"$TMP/ids")" = 25 ] || fail "$sort walk: $(wc -l <"$TMP/ids") items, expected 25"
done
req 422 GET "/movies/$M/comments?cursor=garbage"
req 201 PUT /comments/$C1/vote "$T2" '{"value":"up"}'
req 200 PUT /comments/$C1/vote "$T2" '{"value":"up"}'
req 200 GET "/movies/$M/comments?sort=top&limit=1"
[ "$(field '.items[0].id') $(field '.items[0].up')" = "$C1 1" ] || fail "top: $(cat "$TMP/out")"
req 204 DELETE /comments/$C1/vote "$T2"
req 404 DELETE /comments/$C1/vote "$T2"
req 403 DELETE /comments/$C1 "$T2"
req 204 DELETE /comments/$C1 "$T1"
req 404 DELETE /comments/$C1 "$T1"
req 404 PUT /comments/$C1/vote "$T2" '{"value":"up"}'
req 200 GET "/movies/$M/comments?limit=1"
C2=$(field '.items[0].id')
req 204 DELETE /comments/$C2 "$TA"

# 5. Favorites, progress, history.
req 404 DELETE /favorites/$M "$T1"
req 201 PUT /favorites/$M "$T1"
req 200 PUT /favorites/$M "$T1"
req 200 GET /favorites/$M "$T1"
[ "$(field .favorite)" = true ] || fail "favorite: $(cat "$TMP/out")"
req 200 GET /favorites "$T1"
[ "$(field '.items | length')" = 1 ] || fail "favorites list: $(cat "$TMP/out")"
req 204 DELETE /favorites/$M "$T1"
req 200 GET /favorites/$M "$T1"
[ "$(field .favorite)" = false ] || fail "favorite after delete"
req 404 GET /movies/$M/progress "$T1"
count "INSERT INTO watch_progress (user_id, movie_id, position_s, duration_s, completed)
       VALUES ('$U1', '$M', 754.5, 7200, false), ('$U1', '$M2', 7200, 7200, true)" >/dev/null
req 200 GET /movies/$M/progress "$T1"
[ "$(field .position_s)" = 754.5 ] || fail "progress: $(cat "$TMP/out")"
req 200 GET "/history?unfinished=true" "$T1"
[ "$(field '[.items[].movie_id] | join(",")')" = "$M" ] || fail "unfinished: $(cat "$TMP/out")"
req 200 GET /history "$T1"
[ "$(field '.items | length')" = 2 ] || fail "history: $(cat "$TMP/out")"

# 6. Analytics: each write that changed something put one event into the outbox in its own
# statement, with the id its reply carries (Event-Id); a write that changed nothing put none.
# No relay runs here: the outbox only grows, and the UGC latency does not depend on it.
outbox() { count "SELECT count(*) FROM outbox WHERE payload->>'type' = '$1'"; }
for want in ugc.like=2 ugc.dislike=1 ugc.reaction_removed=1 ugc.comment_created=25 \
            ugc.comment_vote_up=1 ugc.comment_vote_removed=1 ugc.comment_deleted=2 \
            ugc.favorite_added=1 ugc.favorite_removed=1; do
    [ "$(outbox "${want%=*}")" = "${want#*=}" ] || fail "outbox: $(outbox "${want%=*}") ${want%=*}, expected ${want#*=}"
    ok
done
req 201 PUT /favorites/$M2 "$T1"
EID=$(sed -n 's/^Event-Id: *\([0-9a-f-]*\).*/\1/ip' "$TMP/hdr")
[ "$(count "SELECT payload->>'type' || ' ' || (payload->>'user_id') || ' ' || (payload->>'movie_id')
            FROM outbox WHERE event_id = '$EID'")" = "ugc.favorite_added $U1 $M2" ] ||
    fail "no outbox row for Event-Id '$EID'"
req 200 PUT /favorites/$M2 "$T1"
grep -qi '^Event-Id:' "$TMP/hdr" && fail "Event-Id on a write that changed nothing"
ok
worst=0
for i in $(seq 1 20); do
    t=$(curl -s -o /dev/null -w '%{time_total}' -X PUT -H "Authorization: Bearer $T2" \
        "$B/favorites/0190a5c4-0000-7000-8000-0000000$((10000 + i))")
    ms=$(awk -v t="$t" 'BEGIN { printf "%d", t * 1000 }')
    [ "$ms" -gt "$worst" ] && worst=$ms
done
[ "$worst" -lt 200 ] || fail "UGC latency with no relay running: worst ${worst} ms"
echo "it_ugc: worst favorite_put latency with no relay running: ${worst} ms"
[ "$(outbox ugc.favorite_added)" = 22 ] || fail "outbox: $(outbox ugc.favorite_added) favorite_added"
ok

# 7. PostgreSQL stopped: 503 with Retry-After; restarted: recovers without restarting ugcflow.
devstack down postgres >/dev/null
deadline=$((SECONDS + 10))
until [ "$(curl -s -o /dev/null -D "$TMP/hdr" -w '%{http_code}' "$B/movies/$M/reactions")" = 503 ]; do
    [ $SECONDS -lt $deadline ] || fail "no 503 with PostgreSQL down"
    sleep 0.1
done
grep -qi '^Retry-After:' "$TMP/hdr" || fail "503 without Retry-After"
req 503 POST /movies/$M/like "$T1"
devstack up postgres >/dev/null || devstack up postgres >/dev/null
deadline=$((SECONDS + 20))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$B/movies/$M/reactions")" = 200 ]; do
    [ $SECONDS -lt $deadline ] || fail "no recovery after PostgreSQL restarted"
    sleep 0.2
done
req 201 POST /movies/$M/like "$T1"
kill -0 "$UGC" || fail "ugcflow exited"

kill -INT "$UGC"; wait "$UGC" || fail "ugcflow did not stop cleanly"
UGC=
echo "it_ugc: $PASS checks passed"
