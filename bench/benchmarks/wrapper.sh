#!/usr/bin/env bash
# Benchmark of the wrapper's harness: throughput and p50/p99 latency of POST /predict.
#
# The harness (`blacklodge web`, defaults: gunicorn gthread, 2 workers x 4 threads, JSON
# access log on) against a bare WSGI app calling the same function (examples/wrapped-function)
# under the same gunicorn settings, in the same run, on loopback, with wrk as the load
# generator in a second process. Every server starts once; in each round each one gets a
# short run, the harness right next to its baseline, and the goal is judged on the median of
# the per-round ratios: the host under this virtual machine changes its speed from second to
# second, and two runs seconds apart see (mostly) the same host.
#
# A like-for-like comparison: the harness writes one access log line per request by default,
# so the bare app is also measured with gunicorn's access log on (one line per request to
# stdout, `--access-logfile -`), and the harness with its access log off against the bare app
# without one. Also measured, to back the choice of server: the bare app under gunicorn's
# sync worker and under waitress.
#
# Pinning (PIN=1, the default with two or more cores): the server runs on core 0 and wrk on
# core 1, so the load generator never takes CPU from the server and every server gets the
# same single core; with one worker process that makes the rounds repeatable (the harness's
# default of 2 workers on a 2-core machine shares both cores with wrk, and the kernel hands
# wrk's keep-alive connections unevenly to the workers, which splits rounds into a fast and
# a slow mode). Besides wrk's numbers, each run records the server's CPU time per request
# (user + system of all its processes, from /proc).
#
# Results go to bench/results/wrapper.md. Knobs: ROUNDS (15), DURATION (3s),
# CONNECTIONS (16), WRK_THREADS (1), WORKERS (1), THREADS (4), PIN (1), RESULTS (the results file).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ROUNDS="${ROUNDS:-15}"
# Workers x threads of every gthread server (the harness's defaults are 2 x 4).
WORKERS="${WORKERS:-1}"
THREADS="${THREADS:-4}"
if [ "$(nproc)" -ge 2 ]; then PIN="${PIN:-1}"; else PIN=0; fi
if [ "$PIN" = 1 ]; then
  SERVER_CPU=(taskset -c 0)
  LOAD_CPU=(taskset -c 1)
else
  SERVER_CPU=()
  LOAD_CPU=()
fi
DURATION="${DURATION:-3s}"
CONNECTIONS="${CONNECTIONS:-16}"
WRK_THREADS="${WRK_THREADS:-1}"
HERE="$BENCH_DIR/benchmarks/wrapper"
APP_DIR="$REPO_DIR/examples/wrapped-function"
RESULTS="${RESULTS:-$BENCH_DIR/results/wrapper.md}"
VENV="$BLACKLODGE_CACHE/bench-wrapper-venv"
WAITRESS_VERSION=3.0.2
PYTHON="${PYTHON:-python3}"

if ! command -v wrk >/dev/null; then
  step "Installing wrk (Debian package)"
  as_root apt-get install -y --no-install-recommends wrk >/dev/null
fi

# The harness from this work tree with the dependency versions an image gets: the wrapper
# buildpack installs harness/requirements.lock (exact versions, sha256 hashes) with
# pip --require-hashes, so the benchmark does the same, then the harness itself without
# resolving its dependencies again; plus waitress for the comparison.
wanted="$(cat "$REPO_DIR/harness/pyproject.toml" "$REPO_DIR/harness/requirements.lock" "$REPO_DIR"/harness/src/blacklodge_harness/*.py | sha256sum | cut -d' ' -f1)-$WAITRESS_VERSION"
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$wanted" ]; then
  step "Preparing the benchmark venv ($VENV)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  run_logged "pip install the harness's locked dependencies" "$BLACKLODGE_CACHE/bench-wrapper-pip.log" \
    "$VENV/bin/pip" install --disable-pip-version-check --require-hashes -r "$REPO_DIR/harness/requirements.lock"
  run_logged "pip install harness" "$BLACKLODGE_CACHE/bench-wrapper-pip-harness.log" \
    "$VENV/bin/pip" install --disable-pip-version-check --no-deps "$REPO_DIR/harness" "waitress==$WAITRESS_VERSION"
  echo "$wanted" > "$VENV/.stamp"
fi

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Every server runs for the whole benchmark (an idle one takes no CPU): name -> pid, port.
declare -A SERVER_PIDS PORTS
stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  SERVER_PIDS=()
}
trap stop_servers EXIT

# start_server NAME: starts one of the servers in the background on a free port.
start_server() {
  local name="$1" port
  port="$(free_port)"
  case "$name" in
    harness | harness-no-log)
      local access_log=true
      [ "$name" = harness-no-log ] && access_log=false
      env -i PATH="$PATH" HOME="$HOME" PORT="$port" BLACKLODGE_HOST=127.0.0.1 \
        BLACKLODGE_ENTRYPOINT=model:predict BLACKLODGE_APP_DIR="$APP_DIR" \
        BLACKLODGE_WORKERS="$WORKERS" BLACKLODGE_THREADS="$THREADS" BLACKLODGE_ACCESS_LOG="$access_log" \
        "${SERVER_CPU[@]}" "$VENV/bin/blacklodge" web >"$LOG_DIR/$name.log" 2>&1 &
      ;;
    bare-gthread | bare-gthread-log)
      local access_log=()
      [ "$name" = bare-gthread-log ] && access_log=(--access-logfile -)
      BENCH_APP_DIR="$APP_DIR" "${SERVER_CPU[@]}" "$VENV/bin/gunicorn" --chdir "$HERE" --bind "127.0.0.1:$port" \
        --worker-class gthread --workers "$WORKERS" --threads "$THREADS" --keep-alive 5 --timeout 90 "${access_log[@]}" \
        bare_app:app >"$LOG_DIR/$name.log" 2>&1 &
      ;;
    bare-sync)
      BENCH_APP_DIR="$APP_DIR" "${SERVER_CPU[@]}" "$VENV/bin/gunicorn" --chdir "$HERE" --bind "127.0.0.1:$port" \
        --worker-class sync --workers "$WORKERS" --timeout 90 \
        bare_app:app >"$LOG_DIR/$name.log" 2>&1 &
      ;;
    bare-waitress)
      (cd "$HERE" && BENCH_APP_DIR="$APP_DIR" exec "${SERVER_CPU[@]}" "$VENV/bin/waitress-serve" --listen "127.0.0.1:$port" \
        --threads 8 bare_app:app) >"$LOG_DIR/$name.log" 2>&1 &
      ;;
  esac
  SERVER_PIDS[$name]=$!
  PORTS[$name]=$port
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

# CPU ticks (user + system) used so far by the server: its process and its workers.
server_ticks() {
  local pid total=0 fields
  for pid in "$1" $(pgrep -P "$1"); do
    fields="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null)" || continue
    # After the command name: state is field 1, utime field 12, stime field 13.
    total=$((total + $(awk '{print $12 + $13}' <<<"$fields")))
  done
  echo "$total"
}

# measure NAME -> "rps p50 p99 errors cpu_us_per_request", one run of wrk against the running server.
measure() {
  local name="$1" pid="${SERVER_PIDS[$1]}" url="http://127.0.0.1:${PORTS[$1]}" out rps p50 p99 errors ticks_before ticks_after requests cpu
  ticks_before="$(server_ticks "$pid")"
  out="$("${LOAD_CPU[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/post.lua" "$url")"
  ticks_after="$(server_ticks "$pid")"
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  cpu="$(awk -v t="$((ticks_after - ticks_before))" -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.0f", t / hz / n * 1e6 }')"
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
  p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
  errors="$(awk '/Non-2xx or 3xx responses:/ {print $NF} /Socket errors:/ {print "socket"}' <<<"$out" | paste -sd' ')"
  errors="${errors:-0}"
  echo "$rps $p50 $p99 ${errors// /,} $cpu"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

LOG_DIR="$(mktemp -d)"
# The goal's comparisons: harness, bare baseline. Each pair runs back to back in every round.
PAIRS=("harness bare-gthread-log" "harness-no-log bare-gthread" "harness bare-gthread")
SERVERS=(bare-gthread-log harness bare-gthread harness-no-log bare-sync bare-waitress)
step "Starting the servers (all pinned alike, idle while another is measured)"
for server in "${SERVERS[@]}"; do
  start_server "$server"
  # Warm-up, not recorded.
  "${LOAD_CPU[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d2s -s "$HERE/post.lua" "http://127.0.0.1:${PORTS[$server]}" >/dev/null
done
declare -A RPS P50 P99 CPU PAIR_RPS PAIR_P99
for round in $(seq 1 "$ROUNDS"); do
  # Servers of a pair run back to back; which one goes first alternates by round.
  if ((round % 2)); then order=("${SERVERS[@]}")
  else order=(harness bare-gthread-log harness-no-log bare-gthread bare-waitress bare-sync); fi
  declare -A this_rps=() this_p99=()
  for server in "${order[@]}"; do
    read -r rps p50 p99 errors cpu < <(measure "$server")
    info "round $round: $server: $rps req/s, p50 ${p50}ms, p99 ${p99}ms, ${cpu} µs CPU/request, errors: $errors"
    [ "$errors" = 0 ] || die "$server answered with errors ($errors)" "see $LOG_DIR/$server.log" "fix the server"
    RPS[$server]+="$rps "
    P50[$server]+="$p50 "
    P99[$server]+="$p99 "
    CPU[$server]+="$cpu "
    this_rps[$server]="$rps"
    this_p99[$server]="$p99"
  done
  for pair in "${PAIRS[@]}"; do
    read -r h b <<<"$pair"
    PAIR_RPS[$pair]+="$(ratio "${this_rps[$h]}" "${this_rps[$b]}") "
    PAIR_P99[$pair]+="$(ratio "${this_p99[$h]}" "${this_p99[$b]}") "
  done
done
stop_servers

med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | median; }
range() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f–%.0f", lo, hi}'; }
row() {
  local name="$1" label="$2"
  printf '| %s | %.0f | %.2f | %.2f | %.0f | %s |\n' "$label" "$(med "${RPS[$name]}")" "$(med "${P50[$name]}")" "$(med "${P99[$name]}")" "$(med "${CPU[$name]}")" "$(range "${RPS[$name]}")"
}
# How many of the per-round ratios meet the goal: count_met RATIOS GOAL min|max
count_met() { tr ' ' '\n' <<<"$1" | grep -v '^$' | awk -v goal="$2" -v dir="$3" '{ n++; if ((dir == "min") ? $1 >= goal : $1 <= goal) m++ } END { printf "%d of %d", m, n }'; }

goal_row() {  # goal_row LABEL HARNESS BARE
  local label="$1" h="$2" b="$3" t p c
  t="$(med "${PAIR_RPS[$h $b]}")"
  p="$(med "${PAIR_P99[$h $b]}")"
  c="$(ratio "$(med "${CPU[$b]}")" "$(med "${CPU[$h]}")")"
  printf '| %s | %.2f | %s | %s | %.2f | %s | %s | %.2f |\n' "$label" "$t" "$(verdict "$t" 0.90 min)" "$(count_met "${PAIR_RPS[$h $b]}" 0.90 min)" \
    "$p" "$(verdict "$p" 1.20 max)" "$(count_met "${PAIR_P99[$h $b]}" 1.20 max)" "$c"
}
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
# A clean environment: lib.sh exports BLACKLODGE_* variables of the bench tooling, which the
# harness would refuse as unknown.
CPU_LINES="$(env -i PATH="$PATH" HOME="$HOME" BENCH_APP_DIR="$APP_DIR" "$VENV/bin/python" "$HERE/cpu_per_request.py")"
info "$(tr '\n' ';' <<<"$CPU_LINES")"
cpu() { awk -v n="$1" '$1 == n {print $2}' <<<"$CPU_LINES"; }

mkdir -p "$(dirname "$RESULTS")"
{
  echo "# Wrapper benchmark: what the harness costs"
  echo
  echo "Recorded by \`bench/benchmarks/wrapper.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(uname -m))."
  echo "$versions; wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), ${WRK_THREADS} thread, ${CONNECTIONS} connections, ${DURATION} per run after a 2 s warm-up,"
  echo "$ROUNDS rounds. Every server is started once and stays up (idle while another is measured); in each"
  echo "round every server gets one run, the harness and its baseline back to back, which one first alternating."
  if [ "$PIN" = 1 ]; then
    echo "Every server runs pinned to core 0 (\`taskset -c 0\`) and wrk to core 1, so the load generator takes no CPU from the server."
  else
    echo "Servers and wrk share all cores (not pinned)."
  fi
  echo
  echo "\`POST /predict\` with a small JSON order calls \`predict()\` of \`examples/wrapped-function\`."
  echo "\"CPU µs/req\" is the server's own CPU time (user + system, all its processes, from /proc) divided by the requests served."
  echo
  echo "Medians of the rounds:"
  echo
  echo "| server | req/s | p50 ms | p99 ms | CPU µs/req | req/s, slowest–fastest round |"
  echo "| --- | ---: | ---: | ---: | ---: | --- |"
  row harness "**harness** (\`blacklodge web\`: gunicorn gthread ${WORKERS}×${THREADS}, request ids, metrics, 60 s deadline, JSON access log)"
  row bare-gthread-log "bare WSGI app, gunicorn gthread ${WORKERS}×${THREADS}, gunicorn access log to stdout"
  row harness-no-log "harness, \`BLACKLODGE_ACCESS_LOG=false\`"
  row bare-gthread "bare WSGI app, gunicorn gthread ${WORKERS}×${THREADS}, no access log"
  row bare-sync "bare WSGI app, gunicorn sync, ${WORKERS} worker(s)"
  row bare-waitress "bare WSGI app, waitress, 8 threads"
  echo
  echo "## Goal: the harness costs almost nothing"
  echo
  echo "Goal: throughput ≥ 0.90× and p99 latency ≤ 1.20× of a bare WSGI app under the same server settings."
  echo "\"Same settings\" includes logging: the harness writes one access line per request by default, so"
  echo "its like-for-like baseline is the bare app with gunicorn's access log on (first row); with"
  echo "\`BLACKLODGE_ACCESS_LOG=false\` the baseline is the bare app without one (second row). The"
  echo "third row, harness with its log against the bare app without, is the harshest reading."
  echo
  echo "Each round gives one ratio per comparison, from two runs seconds apart; the table shows the"
  echo "median of those ratios and in how many rounds the ratio alone met the goal."
  echo
  echo "| comparison | throughput ratio | ≥ 0.90 | rounds | p99 ratio | ≤ 1.20 | rounds | CPU per request, bare / harness |"
  echo "| --- | ---: | --- | --- | ---: | --- | --- | ---: |"
  goal_row "harness / bare, both logging each request" harness bare-gthread-log
  goal_row "harness without access log / bare without" harness-no-log bare-gthread
  goal_row "harness (logging) / bare (not logging)" harness bare-gthread
  echo
  echo "The last column is the throughput the server's CPU time alone predicts (bare app's CPU per"
  echo "request over the harness's, medians), a check on the throughput ratio."
  echo
  echo "Why paired rounds: this machine is a virtual one, and how fast its core runs changes from"
  echo "second to second with load elsewhere on the host. One server's rounds spread as the range in"
  echo "the first table shows, and the CPU time per request moves with them (the server uses its whole"
  echo "core either way), so neither one long run per server nor rounds minutes apart compare like"
  echo "with like. Two runs a few seconds apart mostly see the same host, and the median of many such"
  echo "ratios keeps the few that straddle a change out of the verdict."
  echo
  echo "## Where the harness's time goes"
  echo
  echo "CPU time of one \`POST /predict\` inside one process, calling the WSGI apps directly"
  echo "through gunicorn's request parser and response writer over a socket pair"
  echo "(\`bench/benchmarks/wrapper/cpu_per_request.py\`; the lowest of 15 batches of 1000 requests):"
  echo
  echo "| variant | µs CPU per request |"
  echo "| --- | ---: |"
  echo "| bare WSGI app | $(cpu bare) |"
  echo "| harness, defaults (call on the request thread under the deadline watchdog, JSON access log, metrics) | $(cpu harness) |"
  echo "| harness, \`BLACKLODGE_ACCESS_LOG=false\` | $(cpu harness-no-access-log) |"
  echo "| harness, \`BLACKLODGE_TIMEOUT=0\` (no deadline) | $(cpu harness-timeout-0) |"
  echo "| harness, both | $(cpu harness-lean) |"
  echo "| harness through the Flask views and the handler thread pool (\`create_app(fast_path=False)\`, how every request was served before the fast path) | $(cpu harness-flask) |"
  echo
  echo "Before the fast path (previous harness, recorded 2026-11-21 by this script): 251 µs CPU per request"
  echo "(Flask 140 µs, the hand-off to a handler thread 45 µs, the access log 50 µs), and 0.29× the throughput"
  echo "and 2.77× the p99 latency of the bare app without access log."
  echo
  echo "What the harness does on \`POST /predict\` (the fast path, \`harness/src/blacklodge_harness/fastpath.py\`,"
  echo "which gunicorn calls directly): request id (taken, or generated from a per-process random prefix"
  echo "and a counter, without a system call) and three more response headers than the bare app"
  echo "(\`X-Request-ID\`, \`X-Content-Type-Options: nosniff\`, \`Cache-Control: no-store\`; valid by"
  echo "construction, so they go straight into gunicorn's response without its per-header checks), content-type and body-size checks, the call registered"
  echo "with the deadline watchdog (a dictionary insert; the watchdog thread is not woken), the"
  echo "request's and the call's metrics under one lock, and the access log line (assembled directly"
  echo "and written with one \`write\` and \`flush\` on stdout). Nothing else runs per request: the"
  echo "metrics snapshot the other workers read is written when a scrape asks for it (and once a"
  echo "second while counts change), not by a thread waking ten times a second, which the in-process"
  echo "measure above could not show. Routing, request parsing and response"
  echo "building in Flask and the hand-off of every call to a handler thread, which made up most of"
  echo "the old cost (last row), are gone from the hot path; \`/metrics\`, \`/statz\`, 404, 405 and"
  echo "CORS preflights are still served by Flask."
  echo
  echo "The bare app is \`json.loads\`, the call and \`json.dumps\`; gunicorn's own work per request"
  echo "(HTTP parsing, sockets) comes on top of both. With a function this cheap, the harness's fixed"
  echo "cost per request is what the throughput ratio measures; with a handler that takes"
  echo "milliseconds (a model), the same fixed cost is a few percent."
  echo
  echo "## Why gunicorn"
  echo
  gthread="$(med "${RPS[bare-gthread]}")"; sync="$(med "${RPS[bare-sync]}")"; waitress="$(med "${RPS[bare-waitress]}")"
  sync_ratio="$(printf '%.2f' "$(ratio "$sync" "$gthread")")"
  echo "Same bare app, same run (medians): gunicorn gthread $gthread req/s, gunicorn sync $sync req/s"
  echo "(${sync_ratio}× gthread), waitress $waitress req/s ($(printf '%.2f' "$(ratio "$waitress" "$gthread")")× gthread)."
  echo
  echo "- gthread against sync: the sync worker serves one request per process at a time, so a"
  if awk -v r="$sync_ratio" 'BEGIN { exit !(r < 1) }'; then
    echo "  slow handler blocks its worker, and it is slower on this load too (no keep-alive: a new"
    echo "  connection per request)."
  else
    echo "  slow handler blocks its worker; on this load of cheap requests it keeps up (it makes a new"
    echo "  connection per request, as it has no keep-alive), but one slow call stalls every other."
  fi
  echo "- gthread against waitress: throughput of the same order on this trivial handler, but"
  echo "  waitress is one process, so every request shares one GIL and a CPU-bound handler (a"
  echo "  model) cannot use a second core; gunicorn runs \`BLACKLODGE_WORKERS\` processes."
  echo "- gunicorn also gives what the harness builds on: graceful shutdown with a grace period,"
  echo "  worker restarts, and per-worker hooks for \`load()\` and \`shutdown()\`."
} > "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
step "Results in ${RESULTS#"$REPO_DIR"/}"
cat "$RESULTS"
