#!/usr/bin/env bash
# bench/ugc/token.sh SUB: prints an HS256 token for user SUB, valid for a day, signed with
# $UGCFLOW_JWT_SECRET (the benchmarks' tokens, as gen_data.sh makes them).
set -euo pipefail
: "${UGCFLOW_JWT_SECRET:?UGCFLOW_JWT_SECRET must be set}"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
p=$(printf '{"sub":"%s","iat":%d,"exp":%d}' "$1" "$now" $((now + 86400)) | b64url)
s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$UGCFLOW_JWT_SECRET" -binary | b64url)
printf '%s.%s.%s\n' "$h" "$p" "$s"
