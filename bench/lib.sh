# Shared helpers for the bench scripts. Source it; do not execute it.
# shellcheck shell=bash

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
# shellcheck source=bench/versions.env
source "$BENCH_DIR/versions.env"

# Everything expensive is cached per machine, keyed by version, outside the work tree,
# so a fresh clone on the same machine reuses it and `git clean` never wipes it.
BLACKLODGE_CACHE="${BLACKLODGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blacklodge}"
TOOLS_DIR="$BLACKLODGE_CACHE/tools"
mkdir -p "$TOOLS_DIR/bin"
export PATH="$TOOLS_DIR/bin:$PATH"

# The Rust target the buildpacks are packaged for (builder/builder.toml's paths name it too);
# bench/test builds the tests for it in the same profile, sharing the compiled dependencies.
BUILDPACK_TARGET=x86_64-unknown-linux-gnu

# The lifecycle tarball pack.sh builds and package.sh links for builder.toml. The directory
# names what the tarball holds: a change of its contents needs a new name (the cache is
# per machine, shared by every work tree).
LIFECYCLE_TGZ="$TOOLS_DIR/lifecycle-$LIFECYCLE_VERSION-sbom/lifecycle-v$LIFECYCLE_VERSION+linux.x86-64.tgz"

# The stacks (bench/versions.env): their suites, and the default one (the first).
stack_suites() { local stack; for stack in $BLACKLODGE_STACKS; do printf '%s\n' "${stack%%:*}"; done; }
# (No `| head` here: with pipefail, a writer that outlives head fails with SIGPIPE now and then.)
DEFAULT_SUITE="${BLACKLODGE_STACKS%% *}"
DEFAULT_SUITE="${DEFAULT_SUITE%%:*}"
# The builder of the default stack is BLACKLODGE_BUILDER (blacklodge/builder:<suite> unless
# set); another stack's is blacklodge/builder:<suite>, or <BLACKLODGE_BUILDER>-<suite> when it
# is set (e.g. blacklodge/builder:mine and blacklodge/builder:mine-trixie). tests/src/lib.rs
# follows the same rule.
BUILDER_BASE="${BLACKLODGE_BUILDER:-blacklodge/builder:$DEFAULT_SUITE}"
builder_image() {
  if [ "$1" = "$DEFAULT_SUITE" ]; then echo "$BUILDER_BASE"
  elif [ "$BUILDER_BASE" = "blacklodge/builder:$DEFAULT_SUITE" ]; then echo "blacklodge/builder:$1"
  else echo "$BUILDER_BASE-$1"; fi
}

# use_stack SUITE: sets the names of that stack's images and builder (documented in
# docs/bench.md). Steps that make something per stack call it for each of stack_suites.
use_stack() {
  local stack found=''
  for stack in $BLACKLODGE_STACKS; do
    [ "${stack%%:*}" = "$1" ] && found="$stack"
  done
  [ -n "$found" ] || die "unknown stack '$1'" "the stacks are: $(stack_suites | tr '\n' ' ')(BLACKLODGE_STACKS in bench/versions.env)" "use one of them, or add the stack to bench/versions.env"
  DEBIAN_SUITE="${found%%:*}"
  DEBIAN_VERSION_ID="${found#*:}"
  BUILD_IMAGE="blacklodge/build:${DEBIAN_SUITE}"
  RUN_IMAGE="blacklodge/run:${DEBIAN_SUITE}"
  BUILDER_IMAGE="$(builder_image "$DEBIAN_SUITE")"
  STACK_ID="io.blacklodge.stacks.${DEBIAN_SUITE}"
  BASE_IMAGE="debian:${DEBIAN_SUITE}-slim"
}
# Loopback services of the bench.
MIRROR_PORT="${BLACKLODGE_MIRROR_PORT:-8765}"
MIRROR_URL="http://127.0.0.1:${MIRROR_PORT}"
REGISTRY_PORT="${BLACKLODGE_REGISTRY_PORT:-5000}"
REGISTRY="127.0.0.1:${REGISTRY_PORT}"
# The Kafka broker (bench/kafka; its controller listens on the next port).
KAFKA_PORT="${BLACKLODGE_KAFKA_PORT:-19092}"
# The conda channel (bench/steps/conda-channel.sh): CONDA_URL/conda-forge/{linux-64,noarch}/.
# A channel_alias of CONDA_URL/ makes the name `conda-forge` resolve to it.
CONDA_PORT="${BLACKLODGE_CONDA_PORT:-8766}"
CONDA_URL="http://127.0.0.1:${CONDA_PORT}"

# pack, run inside a container (as the bench usually is), warns "PACK_VOLUME_KEY is unset"
# on the first build of every image name; a fixed key for the bench's own builds.
export PACK_VOLUME_KEY="${PACK_VOLUME_KEY:-blacklodge-bench}"

# The end-to-end tests read these (tests/src/lib.rs), so moved ports and names carry over.
export BLACKLODGE_BUILDER="$BUILDER_BASE" BLACKLODGE_MIRROR_URL="$MIRROR_URL" BLACKLODGE_REGISTRY="$REGISTRY"
export BLACKLODGE_KAFKA_BOOTSTRAP="127.0.0.1:${KAFKA_PORT}"
export BLACKLODGE_CONDA_PORT="$CONDA_PORT" BLACKLODGE_CONDA_CHANNEL_ALIAS="$CONDA_URL/"

if [ -t 2 ]; then _bold=$'\e[1m'; _red=$'\e[31m'; _reset=$'\e[0m'; else _bold=''; _red=''; _reset=''; fi

step() { printf '%s==> %s%s\n' "$_bold" "$*" "$_reset" >&2; }
info() { printf '    %s\n' "$*" >&2; }

# die WHAT WHY FIX
die() {
  printf '%sERROR: %s%s\n' "$_red$_bold" "$1" "$_reset" >&2
  [ -n "${2:-}" ] && printf '  why: %s\n' "$2" >&2
  [ -n "${3:-}" ] && printf '  fix: %s\n' "$3" >&2
  exit 1
}

# Run a command, keeping its output in a log file; on failure show the tail and die.
run_logged() {
  local what="$1" log="$2"; shift 2
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2 || true
    die "$what failed" "the command '$*' exited non-zero (full log: $log)" "read the log above; re-run the same command, finished steps are cached and skipped"
  fi
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root for: $*" "this step installs system packages or starts the Docker daemon" "run as root or install sudo"
  fi
}

# Atomically publish a finished artifact: build into a temp path, then rename,
# so a run killed halfway never leaves something that looks finished.
publish() { mv -f "$1" "$2"; }

docker_ok() { docker info >/dev/null 2>&1; }

# copy_app SRC DST: the app in SRC as a checkout has it (the files git tracks, and new ones it
# does not ignore) into DST, so what running it here left behind (__pycache__, venvs) never
# reaches an image a benchmark measures.
copy_app() {
  mkdir -p "$2"
  local destination; destination="$(cd "$2" && pwd)"
  (cd "$1" && git ls-files -z --cached --others --exclude-standard -- . | xargs -0 -r cp --parents -t "$destination")
}

# serve_dir WHAT DIR PORT PROBE_URL PORT_VARIABLE LOG: serves DIR on 127.0.0.1:PORT with
# Python's static HTTP server (detached, it outlives the setup) unless PROBE_URL answers
# already, and waits until it does. LOG is a file name in the cache.
serve_dir() {
  local what="$1" dir="$2" port="$3" probe="$4" variable="$5" log="$BLACKLODGE_CACHE/$6"
  if curl -fsS -o /dev/null "$probe" 2>/dev/null; then info "$what answers on 127.0.0.1:$port"; return; fi
  step "Starting $what on 127.0.0.1:$port"
  setsid python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >"$log" 2>&1 </dev/null &
  for _ in $(seq 1 30); do
    curl -fsS -o /dev/null "$probe" 2>/dev/null && return
    sleep 0.5
  done
  die "$what did not start on 127.0.0.1:$port" "see $log" "free port $port or set $variable, then re-run"
}

# apt_install WHAT PACKAGE...: installs Debian packages, refreshing the package lists first
# when they are missing or the first attempt fails (a fresh machine has none). One at a time:
# the setup's lanes run in parallel, and apt holds a lock (a second apt-get would fail).
apt_install() {
  ( flock 9 && apt_install_unlocked "$@" ) 9>"$BLACKLODGE_CACHE/apt.lock"
}

apt_install_unlocked() {
  local what="$1"; shift
  command -v apt-get >/dev/null || die "cannot install $what" "apt-get is not available" "install these packages yourself: $*"
  if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
    run_logged "apt-get update" "$BLACKLODGE_CACHE/apt-update.log" as_root apt-get update
  fi
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$BLACKLODGE_CACHE/apt-$what.log" 2>&1; then
    run_logged "apt-get update" "$BLACKLODGE_CACHE/apt-update.log" as_root apt-get update
    run_logged "installing $what ($*)" "$BLACKLODGE_CACHE/apt-$what.log" \
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
  fi
}

# The venv of the conda channel's tools (py-rattler, zstandard), keyed by its requirements'
# digest; made by bench/steps/conda-channel.sh, used by bench/benchmarks/conda.sh too.
conda_tools_venv() {
  echo "$TOOLS_DIR/conda-tools-$(sha256sum "$BENCH_DIR/conda-channel/tools.requirements.txt" | cut -c1-12)"
}

# BLACKLODGE_STACK selects the stack scripts act on by default (bench/demo, benchmarks).
use_stack "${BLACKLODGE_STACK:-$DEFAULT_SUITE}"

# For the benchmarks (bench/benchmarks/*.sh, run one by one or all by bench/bench).
# bench_default FULL QUICK: a knob's default (rounds, cases): QUICK under BENCH_QUICK=1 (bench/bench's quick mode).
bench_default() { if [ "${BENCH_QUICK:-0}" = 1 ]; then echo "$2"; else echo "$1"; fi; }
# bench_begin KNOB...: exports what bench/benchmarks/results.py records in the results file:
# the exact command (the script, after those of the knobs named that are set) and the 1-minute
# load average before the run.
bench_begin() {
  local knob command=''
  for knob in "$@"; do
    [ -n "${!knob+set}" ] && command+="$knob=$(printf '%q' "${!knob}") "
  done
  BENCH_COMMAND="$command$(realpath --relative-to="$REPO_DIR" "$0")"
  BENCH_LOAD_BEFORE="$(cut -d' ' -f1 /proc/loadavg)"
  export BENCH_COMMAND BENCH_LOAD_BEFORE
}
# bench_pairs "A1 A2 ..." "B1 B2 ...": "A1/B1 A2/B2 ...", each round's figure over its baseline.
bench_pairs() { paste -d/ <(tr -s ' ' '\n' <<<"$1" | grep .) <(tr -s ' ' '\n' <<<"$2" | grep .) | tr '\n' ' '; }
# bench_results NAME: writes NAME.json from rows on stdin (results.py's format) next to the
# benchmark's page ($RESULTS, when the benchmark has that knob), else in bench/results.
bench_results() { python3 "$BENCH_DIR/benchmarks/results.py" write "$1" "$(dirname "${RESULTS:-$BENCH_DIR/results/$1.md}")"; }

# check_serves IMAGE [PORT]: a benchmark's built image answers on / (pulled first when it is in
# the bench registry), run on the host network with PORT (default 18090); dies otherwise.
check_serves() {
  local port="${2:-18090}" container
  case "$1" in "$REGISTRY"/*) docker pull -q "$1" >/dev/null ;; esac
  container="$(docker run -d --rm --network host -e PORT="$port" "$1")"
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; then docker rm -f "$container" >/dev/null; return 0; fi
    sleep 0.5
  done
  docker logs "$container" >&2; docker rm -f "$container" >/dev/null
  die "$1 does not serve" "the built image did not answer on /" "see its log above"
}
