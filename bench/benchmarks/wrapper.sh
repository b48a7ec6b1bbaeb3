#!/usr/bin/env bash
# Benchmark of the wrapper's harness: throughput and p50/p99 latency of POST /predict.
#
# The harness (`blacklodge web`, defaults: gunicorn gthread, 2 workers x 4 threads, JSON
# access log on) against a bare WSGI app calling the same function (examples/wrapped-function)
# under the same gunicorn settings, in the same run, on loopback, with wrk as the load
# generator in a second process. Rounds alternate between the servers and the median of
# the rounds is reported, which keeps noise from other work on the machine out of the ratio.
# Also measured, to back the choice of server: the bare app under gunicorn's sync worker and
# under waitress.
#
# Results go to bench/results/wrapper.md. Knobs: ROUNDS (3), DURATION (10s),
# CONNECTIONS (16), WRK_THREADS (1).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
WRK_THREADS="${WRK_THREADS:-1}"
HERE="$BENCH_DIR/benchmarks/wrapper"
APP_DIR="$REPO_DIR/examples/wrapped-function"
RESULTS="$BENCH_DIR/results/wrapper.md"
VENV="$BLACKLODGE_CACHE/bench-wrapper-venv"
WAITRESS_VERSION=3.0.2
PYTHON="${PYTHON:-python3}"

if ! command -v wrk >/dev/null; then
  step "Installing wrk (Debian package)"
  as_root apt-get install -y --no-install-recommends wrk >/dev/null
fi

# The harness from this work tree, with its dependencies, plus waitress for the comparison.
wanted="$(cat "$REPO_DIR/harness/pyproject.toml" "$REPO_DIR"/harness/src/blacklodge_harness/*.py | sha256sum | cut -d' ' -f1)-$WAITRESS_VERSION"
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$wanted" ]; then
  step "Preparing the benchmark venv ($VENV)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  run_logged "pip install harness" "$BLACKLODGE_CACHE/bench-wrapper-pip.log" \
    "$VENV/bin/pip" install --disable-pip-version-check "$REPO_DIR/harness" "waitress==$WAITRESS_VERSION"
  echo "$wanted" > "$VENV/.stamp"
fi

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap stop_server EXIT

# start_server NAME PORT: starts one of the servers in the background.
start_server() {
  local name="$1" port="$2"
  case "$name" in
    harness)
      env -i PATH="$PATH" HOME="$HOME" PORT="$port" BLACKLODGE_HOST=127.0.0.1 \
        BLACKLODGE_ENTRYPOINT=model:predict BLACKLODGE_APP_DIR="$APP_DIR" \
        BLACKLODGE_WORKERS=2 BLACKLODGE_THREADS=4 \
        "$VENV/bin/blacklodge" web >"$LOG_DIR/$name.log" 2>&1 &
      ;;
    harness-lean)
      env -i PATH="$PATH" HOME="$HOME" PORT="$port" BLACKLODGE_HOST=127.0.0.1 \
        BLACKLODGE_ENTRYPOINT=model:predict BLACKLODGE_APP_DIR="$APP_DIR" \
        BLACKLODGE_WORKERS=2 BLACKLODGE_THREADS=4 BLACKLODGE_TIMEOUT=0 BLACKLODGE_ACCESS_LOG=false \
        "$VENV/bin/blacklodge" web >"$LOG_DIR/$name.log" 2>&1 &
      ;;
    bare-gthread)
      BENCH_APP_DIR="$APP_DIR" "$VENV/bin/gunicorn" --chdir "$HERE" --bind "127.0.0.1:$port" \
        --worker-class gthread --workers 2 --threads 4 --keep-alive 5 --timeout 90 \
        bare_app:app >"$LOG_DIR/$name.log" 2>&1 &
      ;;
    bare-sync)
      BENCH_APP_DIR="$APP_DIR" "$VENV/bin/gunicorn" --chdir "$HERE" --bind "127.0.0.1:$port" \
        --worker-class sync --workers 2 --timeout 90 \
        bare_app:app >"$LOG_DIR/$name.log" 2>&1 &
      ;;
    bare-waitress)
      (cd "$HERE" && BENCH_APP_DIR="$APP_DIR" exec "$VENV/bin/waitress-serve" --listen "127.0.0.1:$port" \
        --threads 8 bare_app:app) >"$LOG_DIR/$name.log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
      -d '{"amount": 1, "items": 1}' "http://127.0.0.1:$port/predict" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  cat "$LOG_DIR/$name.log" >&2
  die "$name did not start" "see its log above" "fix the server start-up"
}

# Converts wrk's latency (850.00us, 1.23ms, 1.01s) to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else { printf "%s", v } }'
}

# measure NAME -> "rps p50 p99 errors"
measure() {
  local name="$1" port out rps p50 p99 errors
  port="$(free_port)"
  start_server "$name" "$port"
  # Warm-up, not recorded.
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d2s -s "$HERE/post.lua" "http://127.0.0.1:$port" >/dev/null
  out="$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/post.lua" "http://127.0.0.1:$port")"
  stop_server
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
  p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
  errors="$(awk '/Non-2xx or 3xx responses:/ {print $NF} /Socket errors:/ {print "socket"}' <<<"$out" | paste -sd' ')"
  echo "$rps $p50 $p99 ${errors:-0}"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

LOG_DIR="$(mktemp -d)"
SERVERS=(bare-gthread harness harness-lean bare-sync bare-waitress)
declare -A RPS P50 P99
for round in $(seq 1 "$ROUNDS"); do
  for server in "${SERVERS[@]}"; do
    read -r rps p50 p99 errors < <(measure "$server")
    info "round $round: $server: $rps req/s, p50 ${p50}ms, p99 ${p99}ms, errors: $errors"
    [ "$errors" = 0 ] || die "$server answered with errors ($errors)" "see $LOG_DIR/$server.log" "fix the server"
    RPS[$server]+="$rps "
    P50[$server]+="$p50 "
    P99[$server]+="$p99 "
  done
done

med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | median; }
row() {
  local name="$1" label="$2"
  printf '| %s | %.0f | %.2f | %.2f | %s |\n' "$label" "$(med "${RPS[$name]}")" "$(med "${P50[$name]}")" "$(med "${P99[$name]}")" "${RPS[$name]% }"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

h_rps="$(med "${RPS[harness]}")"; b_rps="$(med "${RPS[bare-gthread]}")"
h_p99="$(med "${P99[harness]}")"; b_p99="$(med "${P99[bare-gthread]}")"
throughput_ratio="$(ratio "$h_rps" "$b_rps")"
p99_ratio="$(ratio "$h_p99" "$b_p99")"
verdict() { awk -v v="$1" -v goal="$2" -v dir="$3" 'BEGIN { ok = (dir == "min") ? v >= goal : v <= goal; print ok ? "met" : "NOT met" }'; }

versions="$("$VENV/bin/python" - <<'PY'
import platform
from importlib.metadata import version

print(
    f"Python {platform.python_version()}, gunicorn {version('gunicorn')}, Flask {version('flask')}, "
    f"waitress {version('waitress')}, harness {version('blacklodge-harness')}"
)
PY
)"

step "CPU time per request in one process (no server, no network)"
CPU_LINES="$(BENCH_APP_DIR="$APP_DIR" "$VENV/bin/python" "$HERE/cpu_per_request.py")"
info "$(tr '\n' ';' <<<"$CPU_LINES")"
cpu() { awk -v n="$1" '$1 == n {print $2}' <<<"$CPU_LINES"; }

mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Wrapper benchmark: what the harness costs"
  echo
  echo "Recorded by \`bench/benchmarks/wrapper.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(uname -m), shared with other work)."
  echo "$versions; wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), ${WRK_THREADS} thread, ${CONNECTIONS} connections, ${DURATION} per run after a 2 s warm-up,"
  echo "$ROUNDS rounds alternating the servers; the table shows the median of the rounds."
  echo
  echo "\`POST /predict\` with a small JSON order calls \`predict()\` of \`examples/wrapped-function\`."
  echo
  echo "| server | req/s | p50 ms | p99 ms | req/s per round |"
  echo "| --- | ---: | ---: | ---: | --- |"
  row harness "**harness** (\`blacklodge web\`: gunicorn gthread 2×4, Flask, request ids, metrics, JSON access log)"
  row harness-lean "harness, \`BLACKLODGE_TIMEOUT=0\` (call on the request thread) and \`BLACKLODGE_ACCESS_LOG=false\`"
  row bare-gthread "bare WSGI app, gunicorn gthread 2×4 (same settings)"
  row bare-sync "bare WSGI app, gunicorn sync, 2 workers"
  row bare-waitress "bare WSGI app, waitress, 8 threads"
  echo
  echo "## Goal: the harness costs almost nothing"
  echo
  echo "| | harness / bare | goal | |"
  echo "| --- | ---: | ---: | --- |"
  echo "| throughput | $throughput_ratio | ≥ 0.90 | $(verdict "$throughput_ratio" 0.90 min) |"
  echo "| p99 latency | $p99_ratio | ≤ 1.20 | $(verdict "$p99_ratio" 1.20 max) |"
  echo
  echo "## Where the harness's time goes"
  echo
  echo "CPU time of one \`POST /predict\` inside one process, calling the WSGI apps directly"
  echo "(\`bench/benchmarks/wrapper/cpu_per_request.py\`, $(nproc) cores; not disturbed by other work the way wall-clock throughput is):"
  echo
  echo "| variant | µs CPU per request |"
  echo "| --- | ---: |"
  echo "| bare WSGI app | $(cpu bare) |"
  echo "| harness, defaults (Flask, handler thread pool for the deadline, JSON access log, metrics) | $(cpu harness) |"
  echo "| harness, \`BLACKLODGE_ACCESS_LOG=false\` | $(cpu harness-no-access-log) |"
  echo "| harness, \`BLACKLODGE_TIMEOUT=0\` (no thread switch) | $(cpu harness-timeout-0) |"
  echo "| harness, both | $(cpu harness-lean) |"
  echo
  echo "The bare app is \`json.loads\`, the call and \`json.dumps\`; gunicorn's own work per request"
  echo "(HTTP parsing, sockets) comes on top of both. With a function this cheap, the harness's fixed"
  echo "cost per request is what the throughput ratio measures; with a handler that takes"
  echo "milliseconds (a model), the same fixed cost is a few percent."
  echo
  echo "## Why gunicorn"
  echo
  gthread="$(med "${RPS[bare-gthread]}")"; sync="$(med "${RPS[bare-sync]}")"; waitress="$(med "${RPS[bare-waitress]}")"
  echo "Same bare app, same run (medians): gunicorn gthread $gthread req/s, gunicorn sync $sync req/s"
  echo "($(ratio "$sync" "$gthread")× gthread), waitress $waitress req/s ($(ratio "$waitress" "$gthread")× gthread)."
  echo
  echo "- gthread against sync: the sync worker serves one request per process at a time, so a"
  echo "  slow handler blocks its worker, and it is slower on this load too."
  echo "- gthread against waitress: throughput of the same order on this trivial handler, but"
  echo "  waitress is one process, so every request shares one GIL and a CPU-bound handler (a"
  echo "  model) cannot use a second core; gunicorn runs \`BLACKLODGE_WORKERS\` processes."
  echo "- gunicorn also gives what the harness builds on: graceful shutdown with a grace period,"
  echo "  worker restarts, and per-worker hooks for \`load()\` and \`shutdown()\`."
} > "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
step "Results in ${RESULTS#"$REPO_DIR"/}"
cat "$RESULTS"
