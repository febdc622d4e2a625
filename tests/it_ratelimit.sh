#!/usr/bin/env bash
# tests/it_ratelimit.sh: the http source's rate limits over real HTTP: a client over its burst
# gets 429 with Retry-After and the error body while another client is served; its bucket
# refills after the window; the limit keys by a named header, by the token's sub (two tokens of
# one user share a budget, across routes declared with the same mapping) and by the IP a trusted
# proxy header names; 429s are counted per route. No dev-stack service needed; port 0.
set -euo pipefail
: "${UGCFLOW_BIN:?UGCFLOW_BIN must name the ugcflow binary}"
TMP=$(mktemp -d /tmp/it-ratelimit-XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "it_ratelimit: FAIL: $*" >&2; tail -5 "$TMP/run.log" >&2 || true; exit 1; }
export UGCFLOW_JWT_SECRET=it-ratelimit-secret-0123456789abcdef0123
cat >"$TMP/p.yaml" <<'YAML'
pipelines:
  rl:
    components:
      api:
        kind: http
        address: 127.0.0.1:0
        client_ip_header: X-Forwarded-For
        rate_limit: {rate: 1, burst: 2, key: ip}
        routes:
          "POST /h": {name: by_header, rate_limit: {rate: 5, burst: 3, key: header, header: X-Client}}
          "POST /a": {name: write_a, rate_limit: &w {rate: 1, burst: 3, key: sub}}
          "POST /b": {name: write_b, rate_limit: *w}
          "GET /ip": {name: by_ip}
      sink: {kind: null, inputs: [api]}
YAML
"$UGCFLOW_BIN" run "$TMP/p.yaml" --admin 127.0.0.1:0 >"$TMP/run.log" 2>&1 &
PID=$!
deadline=$((SECONDS + 20))
until grep -q "msg=Running." "$TMP/run.log" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "not running"
    sleep 0.1
done
PORT=$(sed -n 's/.*msg=Listening.*port=\([0-9]*\).*/\1/p' "$TMP/run.log" | head -1)
ADMIN=$(sed -n 's/.*msg=Running.*admin_port=\([0-9]*\).*/\1/p' "$TMP/run.log")
B=http://127.0.0.1:$PORT
code() { curl -s -o "$TMP/out" -D "$TMP/hdr" -w '%{http_code}' "$@"; }

# 1. By header: three pass, the fourth is refused with the body and Retry-After; another client
# is served meanwhile.
for i in 1 2 3; do [ "$(code -X POST -H 'X-Client: a' "$B/h")" = 200 ] || fail "a #$i: $(cat "$TMP/out")"; done
[ "$(code -X POST -H 'X-Client: a' "$B/h")" = 429 ] || fail "a over its burst was served"
jq -e '.error.code == "rate_limited" and (.error.message | length > 0)' "$TMP/out" >/dev/null ||
    fail "429 body: $(cat "$TMP/out")"
grep -qi '^Retry-After: 1' "$TMP/hdr" || fail "no Retry-After: $(cat "$TMP/hdr")"
[ "$(code -X POST -H 'X-Client: b' "$B/h")" = 200 ] || fail "b refused while a is limited"
# 2. Recovery: at 5/s a token is back within 200 ms.
deadline=$((SECONDS + 5))
until [ "$(code -X POST -H 'X-Client: a' "$B/h")" = 200 ]; do
    [ $SECONDS -lt $deadline ] || fail "a never recovered"
    sleep 0.05
done
# 3. By sub: two tokens of one user share one budget across /a and /b; another user is served.
U1=$("$UGCFLOW_BIN" token --sub 0190a5c4-0000-7000-8000-0000000000a1)
U1b=$("$UGCFLOW_BIN" token --sub 0190a5c4-0000-7000-8000-0000000000a1 --ttl 10m)
U2=$("$UGCFLOW_BIN" token --sub 0190a5c4-0000-7000-8000-0000000000a2)
[ "$(code -X POST -H "Authorization: Bearer $U1" "$B/a")" = 200 ] || fail "u1 /a"
[ "$(code -X POST -H "Authorization: Bearer $U1b" "$B/b")" = 200 ] || fail "u1 /b"
[ "$(code -X POST -H "Authorization: Bearer $U1" "$B/b")" = 200 ] || fail "u1 /b again"
[ "$(code -X POST -H "Authorization: Bearer $U1b" "$B/a")" = 429 ] || fail "u1 over its burst (shared) was served"
[ "$(code -X POST -H "Authorization: Bearer $U2" "$B/a")" = 200 ] || fail "u2 refused while u1 is limited"
# 4. By the trusted proxy's header (the listener's limit: burst 2): the last address counts.
for i in 1 2; do
    [ "$(code -H 'X-Forwarded-For: 203.0.113.9, 198.51.100.7' "$B/ip")" = 200 ] || fail "ip #$i"
done
[ "$(code -H 'X-Forwarded-For: 203.0.113.9, 198.51.100.7' "$B/ip")" = 429 ] || fail "ip over burst served"
[ "$(code -H 'X-Forwarded-For: 198.51.100.8' "$B/ip")" = 200 ] || fail "another ip refused"
# 5. Counted per route.
m=$(curl -s "http://127.0.0.1:$ADMIN/metrics")
for r in by_header write_a by_ip; do
    grep -q "^ugcflow_component_http_rate_limited_total{.*route=\"$r\"} [1-9][0-9]*$" <<<"$m" ||
        fail "429s of $r not counted: $(grep rate_limited <<<"$m")"
done
echo "it_ratelimit: ok"
