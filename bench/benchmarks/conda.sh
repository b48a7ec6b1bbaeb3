#!/usr/bin/env bash
# Benchmark of conda environments on the bench's channel (recorded, not a timed test).
#
# The reference environment (the channel's fixtures/environment.yml: python 3.13, flask with
# `werkzeug <3.1`, gunicorn, the native blgreet, pip; 14 packages) solved and installed, cold
# and warm, in the same run by:
# - the conda buildpack: `pack build` of bench/apps/conda-flask with the bench's builder
#   ($BLACKLODGE_BUILDER, as bench/setup names it), cold (new cache volumes) and warm (code-only change);
# - py-rattler (bench/benchmarks/conda/rattler_env.py, the channel's tools venv): cold (empty
#   package cache, new prefix), warm (filled cache, new prefix), no-op (installed prefix);
# - a Dockerfile doing the same with the same channel and py-rattler on the build image
#   (no conda image can be pulled here): cold `--no-cache`, warm after a code-only change.
# Plus the size of the environment (the buildpack's env layer, the Dockerfile's RUN layer,
# the py-rattler prefix) and the load average before and after.
#
#   bench/benchmarks/conda.sh            # writes bench/results/conda.md
#
# Knobs: ROUNDS (3). Needs the bench (bench/setup) and, for the buildpack rows, the builder.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
CONDA_BUILDER="$BUILDER_IMAGE"

RESULTS="${RESULTS:-$BENCH_DIR/results/conda.md}"
ROUNDS="${ROUNDS:-$(bench_default 3 1)}"
bench_begin ROUNDS BLACKLODGE_BUILDER
WORK="$(mktemp -d)"
RUN_ID="conda-bench-$$"
LOAD_BEFORE="$(cut -d" " -f1-3 /proc/loadavg)"
VENV="$(conda_tools_venv)"
BASE_TAG="blacklodge-bench/conda-baseline-base"
cleanup() {
  rm -rf "$WORK"
  docker image rm "$BASE_TAG" blacklodge-bench/conda-dockerfile blacklodge-bench/conda-pack >/dev/null 2>&1 || true
  local volumes
  mapfile -t volumes < <(docker volume ls -q | grep "^$RUN_ID")
  [ "${#volumes[@]}" = 0 ] || docker volume rm -f "${volumes[@]}" >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

[ -f "$VENV/.done" ] || die "the conda channel tools are missing" "$VENV is made by bench/steps/conda-channel.sh" "run bench/setup"
curl -fsS -o "$WORK/environment.yml" "$CONDA_URL/fixtures/environment.yml" \
  || die "the bench's conda channel does not answer at $CONDA_URL" "bench/steps/conda-channel.sh serves it" "run bench/setup"
ALIAS="$CONDA_URL/"

check_serves() {  # check_serves IMAGE: the app answers, with flask 3.0.3 and the native extension
  local port=18091 container body
  container="$(docker run -d --rm --network host -e PORT=$port "$1")"
  for _ in $(seq 1 60); do
    if body="$(curl -fsS "http://127.0.0.1:$port/" 2>/dev/null)"; then
      docker rm -f "$container" >/dev/null
      case "$body" in *'"flask":"3.0.3"'*'"greeting":"hello from libblgreet"'*) return 0 ;; esac
      die "$1 serves the wrong answer" "got: $body" "see the app in bench/apps/conda-flask"
    fi
    sleep 0.5
  done
  docker logs "$container" >&2; docker rm -f "$container" >/dev/null
  die "$1 does not serve" "the built image did not answer on /" "see its log above"
}

# --- py-rattler -------------------------------------------------------------------------------

rattler_run() {  # rattler_run PREFIX CACHE → "wall solve install"
  local start end out
  start="$(now)"
  out="$("$VENV/bin/python" "$BENCH_DIR/benchmarks/conda/rattler_env.py" "$WORK/environment.yml" "$1" "$2" "$ALIAS")" \
    || die "py-rattler failed to install the environment" "see the output above" ""
  end="$(now)"
  echo "$(elapsed "$start" "$end") $(json_field "$out" solve) $(json_field "$out" install) $(json_field "$out" packages)"
}

# --- the Dockerfile ---------------------------------------------------------------------------

# The baseline's base (made once, not timed): the build image with the mirror's CPython 3.11
# and py-rattler in a venv, like a `micromamba` base image has its installer. Its wheels are
# downloaded here (hash-pinned: the tools' list and pip from the channel's list).
baseline_base() {
  local ctx="$WORK/base" url
  mkdir -p "$ctx/wheels"
  url="$(curl -fsS "$MIRROR_URL/manifest.json" | python3 -c 'import json,sys; print(next(a["url"] for a in json.load(sys.stdin)["archives"] if a["version"].startswith("3.11.")))')"
  curl -fsS -o "$ctx/cpython.tar.gz" "$url"
  grep -A1 '^pip==' "$BENCH_DIR/conda-channel/wheels-newer.txt" >"$ctx/pip.txt"
  run_logged "downloading the baseline's wheels" "$WORK/base-wheels.log" \
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --require-hashes --only-binary :all: \
      --python-version 3.11 --implementation cp --abi cp311 --platform manylinux2014_x86_64 \
      --platform manylinux_2_17_x86_64 --platform any -d "$ctx/wheels" \
      -r "$BENCH_DIR/conda-channel/tools.requirements.txt" -r "$ctx/pip.txt"
  cp "$BENCH_DIR/benchmarks/conda/rattler_env.py" "$ctx/"
  local pip_wheel
  pip_wheel="$(basename "$(ls "$ctx"/wheels/pip-*.whl)")"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BUILD_IMAGE
USER root
COPY cpython.tar.gz rattler_env.py /opt/
COPY wheels /tmp/wheels
RUN tar -C /opt -xzf /opt/cpython.tar.gz && rm /opt/cpython.tar.gz \\
 && /opt/python/bin/python3 -m venv --without-pip /venv \\
 && /venv/bin/python /tmp/wheels/$pip_wheel/pip install -q --no-index --find-links /tmp/wheels py-rattler zstandard packaging \\
 && rm -rf /tmp/wheels
DOCKERFILE
  run_logged "building the Dockerfile baseline's base image" "$WORK/base-build.log" \
    env DOCKER_BUILDKIT=0 docker build --network none -t "$BASE_TAG" "$ctx"
}

dockerfile_app() {  # the app with its Dockerfile: the environment first, then the code
  local dir="$WORK/dockerfile"
  mkdir -p "$dir"
  cp "$BENCH_DIR/apps/conda-flask/app.py" "$WORK/environment.yml" "$dir/"
  cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $BASE_TAG
COPY environment.yml /tmp/environment.yml
RUN /venv/bin/python /opt/rattler_env.py /tmp/environment.yml /opt/env /tmp/rattler-cache $ALIAS --clean
ENV PATH=/opt/env/bin:\$PATH
WORKDIR /workspace
COPY app.py .
USER 1000:1000
CMD ["sh", "-c", "gunicorn --bind 0.0.0.0:\${PORT:-8080} --workers 2 app:app"]
DOCKERFILE
}

docker_build() {  # docker_build [--no-cache] → seconds
  local start end
  start="$(now)"
  DOCKER_BUILDKIT=0 docker build --network host "$@" -t blacklodge-bench/conda-dockerfile "$WORK/dockerfile" >"$WORK/dockerfile.log" 2>&1 \
    || { tail -40 "$WORK/dockerfile.log" >&2; die "docker build failed" "see the log above" ""; }
  end="$(now)"
  elapsed "$start" "$end"
}

dockerfile_env_size() {  # MB of the RUN layer that made /opt/env
  docker history --no-trunc --format '{{.Size}}|{{.CreatedBy}}' blacklodge-bench/conda-dockerfile \
    | awk -F'|' '/rattler_env.py/ { print $1; exit }'
}

# --- the buildpack ----------------------------------------------------------------------------

pack_build() {  # pack_build APP CACHE → seconds
  local start end
  start="$(now)"
  pack build blacklodge-bench/conda-pack --builder "$CONDA_BUILDER" --path "$1" \
    --network host --pull-policy if-not-present --trust-builder --verbose \
    --cache "type=build;format=volume;name=$2-build" --cache "type=launch;format=volume;name=$2-launch" \
    --env "BP_CONDA_CHANNEL_ALIAS=$ALIAS" >"$WORK/pack.log" 2>&1 \
    || { tail -40 "$WORK/pack.log" >&2; die "pack build with $CONDA_BUILDER failed" "see the log above" "fix the build, then re-run"; }
  end="$(now)"
  elapsed "$start" "$end"
}

builder_phase() {  # seconds of the lifecycle's build phase (the buildpacks' own work) in pack.log
  awk '/Timer: Builder ran for/ { for (i = 1; i <= NF; i++) if ($i == "for") v = $(i + 1) }
    END { if (v ~ /ms$/) printf "%.1f", v / 1000; else if (v ~ /m[0-9.]+s$/) { split(v, p, "m"); printf "%.1f", p[1] * 60 + p[2] } else printf "%.1f", v + 0 }' "$WORK/pack.log"
}

pack_env_size() {  # "MB LAYER": the size of the layer holding the environment (conda-meta/)
  docker run --rm --entrypoint sh blacklodge-bench/conda-pack -c \
    'm=$(ls -d /layers/*/*/conda-meta /layers/*/*/*/conda-meta 2>/dev/null | head -1)
     [ -n "$m" ] || { echo "no conda-meta under /layers" >&2; exit 1; }
     d=$(echo "$m" | cut -d/ -f1-4); du -sm --apparent-size "$d" | cut -f1; echo "$d"' | paste -sd' '
}

bp_step() {  # bp_step LOG WHAT: seconds of the conda buildpack's "WHAT ... done (T)" line, or n/a
  awk -v what="$2" 'index($0, what " ... done (") {
      v = $0; sub(/.*done \(/, "", v); sub(/\).*/, "", v)
      if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v / 1000 } else { sub(/s$/, "", v); printf "%.2f", v }
      found = 1; exit }
    END { if (!found) print "n/a" }' "$1"
}

# --- the run ----------------------------------------------------------------------------------

declare -A t  # t[name] = "v1 v2 ..." over the rounds
HAVE_BUILDER=0
docker image inspect "$CONDA_BUILDER" >/dev/null 2>&1 && HAVE_BUILDER=1
step "Dockerfile baseline's base image (not timed)"
baseline_base
dockerfile_app
mkdir -p "$WORK/app"
cp "$BENCH_DIR/apps/conda-flask/app.py" "$BENCH_DIR/apps/conda-flask/Procfile" "$WORK/environment.yml" "$WORK/app/"
for round in $(seq 1 "$ROUNDS"); do
  step "round $round/$ROUNDS: py-rattler"
  rm -rf "$WORK/rattler"
  read -r wall solve install PACKAGES < <(rattler_run "$WORK/rattler/env1" "$WORK/rattler/cache")
  t[rattler_cold]+=" $wall"; t[rattler_cold_solve]+=" $solve"; t[rattler_cold_install]+=" $install"
  read -r wall solve install _ < <(rattler_run "$WORK/rattler/env2" "$WORK/rattler/cache")
  t[rattler_warm]+=" $wall"; t[rattler_warm_solve]+=" $solve"; t[rattler_warm_install]+=" $install"
  read -r wall solve install _ < <(rattler_run "$WORK/rattler/env2" "$WORK/rattler/cache")
  t[rattler_noop]+=" $wall"; t[rattler_noop_solve]+=" $solve"; t[rattler_noop_install]+=" $install"
  RATTLER_SIZE="$(du -sm --apparent-size "$WORK/rattler/env1" | cut -f1)"
  info "cold ${t[rattler_cold]##* }s, warm ${t[rattler_warm]##* }s, no-op ${t[rattler_noop]##* }s"

  step "round $round/$ROUNDS: Dockerfile, cold (--no-cache) and warm (code-only change)"
  cp "$BENCH_DIR/apps/conda-flask/app.py" "$WORK/dockerfile/app.py"
  t[docker_cold]+=" $(docker_build --no-cache)"
  echo "# code-only change" >>"$WORK/dockerfile/app.py"
  t[docker_warm]+=" $(docker_build)"
  [ "$round" = 1 ] && check_serves blacklodge-bench/conda-dockerfile
  DOCKER_SIZE="$(dockerfile_env_size)"
  info "cold ${t[docker_cold]##* }s, warm ${t[docker_warm]##* }s"

  if [ "$HAVE_BUILDER" = 1 ]; then
    step "round $round/$ROUNDS: buildpack ($CONDA_BUILDER), cold and warm (code-only change)"
    cp "$BENCH_DIR/apps/conda-flask/app.py" "$WORK/app/app.py"
    docker image rm -f blacklodge-bench/conda-pack >/dev/null 2>&1 || true
    cache="$RUN_ID-r$round"
    t[pack_cold]+=" $(pack_build "$WORK/app" "$cache")"; t[pack_cold_build]+=" $(builder_phase)"
    t[bp_solve]+=" $(bp_step "$WORK/pack.log" Solving)"
    t[bp_install]+=" $(bp_step "$WORK/pack.log" "Installing into the environment")"
    t[bp_bytecode]+=" $(bp_step "$WORK/pack.log" "Compiling bytecode (test suites excluded)")"
    echo "# code-only change" >>"$WORK/app/app.py"
    t[pack_warm]+=" $(pack_build "$WORK/app" "$cache")"; t[pack_warm_build]+=" $(builder_phase)"
    [ "$round" = 1 ] && check_serves blacklodge-bench/conda-pack
    PACK_SIZE="$(pack_env_size)"
    PACK_REUSE="$(grep -i -m1 -E 'reus' "$WORK/pack.log" | sed 's/^ *//' || true)"
    docker volume rm -f "$cache-build" "$cache-launch" >/dev/null 2>&1 || true
    info "cold ${t[pack_cold]##* }s, warm ${t[pack_warm]##* }s"
  fi
done
LOAD_AFTER="$(cut -d" " -f1-3 /proc/loadavg)"

m() { local values; read -ra values <<<"${t[$1]}"; median "${values[@]}"; }
row() {  # row NAME COLD WARM NOTE
  echo "| $1 | $2 | $3 | $(ratio "$3" "$2") | $4 |"
}
{
  echo "# Conda environments: solve + install, cold and warm"
  echo
  echo "Recorded by \`bench/benchmarks/conda.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores; load average before: $LOAD_BEFORE, after: $LOAD_AFTER)."
  echo "Environment: the bench channel's \`fixtures/environment.yml\` (python 3.13.5, flask 3.0.3 forced by \`werkzeug <3.1\`, gunicorn, the native blgreet + libblgreet, pip; $PACKAGES packages) from \`$CONDA_URL/conda-forge\` (channel alias). Medians of $ROUNDS rounds; every value in the last column."
  echo
  echo "| what | cold (s) | warm (s) | warm / cold | notes (rounds: cold; warm) |"
  echo "| --- | ---: | ---: | ---: | --- |"
  if [ "$HAVE_BUILDER" = 1 ]; then
    row "buildpack: whole \`pack build\`" "$(m pack_cold)" "$(m pack_warm)" "warm = code-only change;${t[pack_cold]};${t[pack_warm]}"
    row "buildpack: lifecycle build phase" "$(m pack_cold_build)" "$(m pack_warm_build)" "all buildpacks' build steps;${t[pack_cold_build]};${t[pack_warm_build]}"
    echo "| buildpack: solve (its log) | $(m bp_solve) | | | rounds:${t[bp_solve]}; warm reuses the environment (no solve) |"
    echo "| buildpack: install (its log) | $(m bp_install) | | | download + extract + link;${t[bp_install]} |"
    echo "| buildpack: bytecode (its log) | $(m bp_bytecode) | | | compileall of the environment (py-rattler writes none);${t[bp_bytecode]} |"
  else
    echo "| buildpack | not measured | not measured | | the builder \`$CONDA_BUILDER\` was not in the daemon |"
  fi
  row "Dockerfile + py-rattler: whole \`docker build\`" "$(m docker_cold)" "$(m docker_warm)" "cold = \`--no-cache\`, warm = code-only change;${t[docker_cold]};${t[docker_warm]}"
  row "py-rattler: solve + install (process wall)" "$(m rattler_cold)" "$(m rattler_warm)" "warm = filled package cache, new prefix;${t[rattler_cold]};${t[rattler_warm]}"
  row "py-rattler: solve only" "$(m rattler_cold_solve)" "$(m rattler_warm_solve)" "repodata fetch included;${t[rattler_cold_solve]};${t[rattler_warm_solve]}"
  row "py-rattler: install only" "$(m rattler_cold_install)" "$(m rattler_warm_install)" "download + extract + link;${t[rattler_cold_install]};${t[rattler_warm_install]}"
  echo "| py-rattler: no-op (installed prefix, same spec) | | $(m rattler_noop) | | solve $(m rattler_noop_solve) s, install $(m rattler_noop_install) s;${t[rattler_noop]} |"
  echo
  echo "Ratios:"
  echo
  if [ "$HAVE_BUILDER" = 1 ]; then
    echo "- buildpack cold / Dockerfile cold: **$(ratio "$(m pack_cold)" "$(m docker_cold)")**; warm / Dockerfile warm: **$(ratio "$(m pack_warm)" "$(m docker_warm)")**."
    echo "- buildpack build phase cold / py-rattler cold (solve + install): **$(ratio "$(m pack_cold_build)" "$(m rattler_cold)")**; warm build phase / py-rattler no-op: **$(ratio "$(m pack_warm_build)" "$(m rattler_noop)")**."
    echo "- buildpack solve + install (its log, no bytecode) / py-rattler solve + install (in process): **$(ratio "$(awk -v a="$(m bp_solve)" -v b="$(m bp_install)" 'BEGIN { print a + b }')" "$(awk -v a="$(m rattler_cold_solve)" -v b="$(m rattler_cold_install)" 'BEGIN { print a + b }')")**."
  else
    echo "- buildpack ratios: not measured (no builder)."
  fi
  echo "- Dockerfile cold / py-rattler cold: $(ratio "$(m docker_cold)" "$(m rattler_cold)") (the rest is Docker: context, layers, commit)."
  echo
  echo "Environment size: py-rattler prefix ${RATTLER_SIZE} MB (\`du -sm --apparent-size\`); Dockerfile RUN layer ${DOCKER_SIZE} (\`docker history\`)$(
    [ "$HAVE_BUILDER" = 1 ] && echo "; buildpack env layer ${PACK_SIZE% *} MB (\`du -sm --apparent-size ${PACK_SIZE#* }\`, bytecode included)")."
  if [ "$HAVE_BUILDER" = 1 ] && [ -n "${PACK_REUSE:-}" ]; then
    echo
    echo "The warm build's log says: \`$PACK_REUSE\`"
  fi
} >"$RESULTS.new"
# The hand-written reading of the numbers (from "## Reading the numbers" on) is kept.
if grep -q '^## Reading the numbers' "$RESULTS" 2>/dev/null; then
  { echo; sed -n '/^## Reading the numbers/,$p' "$RESULTS"; } >>"$RESULTS.new"
fi
mv "$RESULTS.new" "$RESULTS"
{
  if [ "$HAVE_BUILDER" = 1 ]; then
    printf '%s\tratio\t%s\t\t%s\n' "buildpack cold / Dockerfile cold" "Dockerfile + py-rattler, --no-cache, same round" "$(bench_pairs "${t[pack_cold]}" "${t[docker_cold]}")"
    printf '%s\tratio\t%s\t\t%s\n' "buildpack warm / Dockerfile warm" "Dockerfile + py-rattler, code-only change, same round" "$(bench_pairs "${t[pack_warm]}" "${t[docker_warm]}")"
    printf '%s\tratio\t%s\t\t%s\n' "buildpack build phase cold / py-rattler cold" "py-rattler solve + install, same round" "$(bench_pairs "${t[pack_cold_build]}" "${t[rattler_cold]}")"
    printf '%s\ts\t–\t\t%s\n' "buildpack: whole pack build, cold" "${t[pack_cold]}"
    printf '%s\ts\t–\t\t%s\n' "buildpack: whole pack build, warm" "${t[pack_warm]}"
  fi
  printf '%s\ts\t–\t\t%s\n' "Dockerfile + py-rattler, cold" "${t[docker_cold]}"
  printf '%s\ts\t–\t\t%s\n' "py-rattler solve + install, cold" "${t[rattler_cold]}"
} | bench_results conda
cat "$RESULTS"
