#!/usr/bin/env bash
# tests/it_viz.sh: end-to-end test of the graph page in a real browser. Starts `ugcflow run` on
# a pipeline of built-in kinds under load (two generators -> set -> route -> null sinks, plus a
# second pipeline), admin on a free port, and drives the page with headless Chromium from
# Debian's packages through playwright-core (tests/browser/, installed with `npm ci`). Needs
# none of the dev stack's services. Leaves a screenshot at build/viz-graph.png.
set -euo pipefail
SRC=${UGCFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${UGCFLOW_BIN:-$SRC/build/ugcflow}
SHOT=${UGCFLOW_SCREENSHOT:-$(dirname "$BIN")/viz-graph.png}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

[ -x "$BIN" ] || { echo "it_viz: no ugcflow binary at $BIN" >&2; exit 1; }
[ -x "$CHROMIUM" ] || { echo "it_viz: $CHROMIUM missing: run script/bootstrap" >&2; exit 1; }
command -v npm >/dev/null || { echo "it_viz: npm missing" >&2; exit 1; }

(cd "$SRC/tests/browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/viz.yaml" <<'YAML'
log_level: info
admin:
  address: 127.0.0.1:0
pipelines:
  watch:
    components:
      page_views:
        kind: generate
        rate: 300
        template: {type: page_view, url: /movies/42}
      likes:
        kind: generate
        rate: 120
        template: {type: like, movie_id: "42"}
      tag:
        kind: set
        inputs: [page_views, likes]
        fields: {env: test}
      by_type:
        kind: route
        inputs: [tag]
        field: type
        routes:
          views: [page_view]
        default: events
      views:
        kind: null
        inputs: [by_type.views]
      events:
        kind: null
        inputs: [by_type.events]
  heartbeat:
    components:
      ticks:
        kind: generate
        rate: 50
      sink:
        kind: null
        inputs: [ticks]
YAML

"$BIN" run "$tmp/viz.yaml" 2>"$tmp/run.log" &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*msg=Running\..*admin_port=\([0-9]*\).*/\1/p' "$tmp/run.log")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "it_viz: ugcflow did not start:" >&2
  cat "$tmp/run.log" >&2
  exit 1
fi

node "$SRC/tests/browser/viz_page.js" "http://127.0.0.1:$port" "$SHOT"
echo "it_viz: screenshot at $SHOT"

# The terminal view of the same process: every component with a non-zero rate.
screen=$("$BIN" top --admin "127.0.0.1:$port" --sort rate --once)
echo "$screen"
for c in watch/page_views watch/likes watch/tag watch/by_type watch/views watch/events \
         heartbeat/ticks heartbeat/sink; do
  echo "$screen" | grep -Eq "^$c +[a-z_]+ +[-0-9.k]+ +[1-9][0-9.k]* " \
    || { echo "it_viz: FAIL top shows no throughput for $c" >&2; exit 1; }
done
echo "it_viz: top lists every component"
