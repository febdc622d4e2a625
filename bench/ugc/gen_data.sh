#!/usr/bin/env bash
# bench/ugc/gen_data.sh TOKENS MOVIES USERS ALL_MOVIES > data.lua: the ids and HS256 tokens the
# wrk script draws from. User i is md5('u' || i)::uuid and movie j md5('m' || j)::uuid, as in
# dataset.sql; TOKENS users and MOVIES movies are spread over the whole dataset. Tokens are
# signed with $UGCFLOW_JWT_SECRET and valid for a day.
set -euo pipefail
NT=${1:-1000}
NM=${2:-2000}
USERS=${3:-500000}
ALL=${4:-20000}
: "${UGCFLOW_JWT_SECRET:?UGCFLOW_JWT_SECRET must be set}"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
uuid_of() { # md5 as a UUID, like PostgreSQL's md5(...)::uuid
    local h
    h=$(printf '%s' "$1" | md5sum | cut -c1-32)
    printf '%s-%s-%s-%s-%s' "${h:0:8}" "${h:8:4}" "${h:12:4}" "${h:16:4}" "${h:20:12}"
}
now=$(date +%s)
h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
echo "return { tokens = {"
for i in $(seq 0 $((NT - 1))); do
    u=$(((i * 7919) % USERS))
    p=$(printf '{"sub":"%s","iat":%d,"exp":%d}' "$(uuid_of "u$u")" "$now" $((now + 86400)) | b64url)
    s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$UGCFLOW_JWT_SECRET" -binary | b64url)
    printf '  "%s.%s.%s",\n' "$h" "$p" "$s"
done
echo "}, movies = {"
for j in $(seq 0 $((NM - 1))); do
    printf '  "%s",\n' "$(uuid_of "m$(((j * 104729) % ALL))")"
done
echo "} }"
