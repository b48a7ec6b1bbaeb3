#!/usr/bin/env bash
# Benchmark of the dependency buildpacks (recorded, not a timed test).
#
# For bench/apps/flask-numpy-pandas (Flask + gunicorn + numpy + pandas), per package manager:
# a cold build (empty build cache) and a warm rebuild after a code-only change, through pack
# and the real lifecycle; and in the same run the Dockerfile baseline of
# shared/seeds (COPY . . then pip install --no-cache-dir -r requirements.txt) on the same
# build image with the same CPython, built with the legacy builder (DOCKER_BUILDKIT=0).
#
#   bench/benchmarks/deps.sh            # writes bench/results/deps.md
#
# Two export targets, each with its own baseline:
# - daemon: `pack build` into the local Docker daemon (pack's default, with its launch cache
#   volume), against `docker build`;
# - registry: `pack build --publish` to the bench's loopback OCI registry (how kpack and the
#   Tekton task export: the image goes straight to a registry), against `docker build` followed
#   by `docker push` to the same registry.
# Every round builds every manager cold (new cache volumes, no previous image) then warm after
# a code-only change; the tables show the median of the rounds.
#
# Knobs: ROUNDS (3), TARGETS ("daemon registry"), MANAGERS ("pip uv poetry pipenv").
# Needs the bench (bench/setup); uses $BLACKLODGE_BUILDER (default: the bench's builder).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

APP_DIR="$BENCH_DIR/apps/flask-numpy-pandas"
RESULTS="${RESULTS:-$BENCH_DIR/results/deps.md}"
WORK="$(mktemp -d)"
RUN_ID="deps-bench-$$"
LOAD_BEFORE="$(cut -d" " -f1-3 /proc/loadavg)"
ROUNDS="${ROUNDS:-$(bench_default 3 1)}"
TARGETS="${TARGETS:-daemon registry}"
MANAGERS="${MANAGERS:-$(bench_default "pip uv poetry pipenv" "pip uv")}"
bench_begin ROUNDS TARGETS MANAGERS BLACKLODGE_BUILDER
BENCH_REPO="$REGISTRY/blacklodge-bench"
cleanup() {
  rm -rf "$WORK"
  # By name, never by id: the run image's registry tag shares its id with blacklodge/run.
  docker image rm $(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^(blacklodge-bench|$BENCH_REPO)/") >/dev/null 2>&1 || true
  docker volume rm -f $(docker volume ls -q | grep "^$RUN_ID") >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

app_for() {  # app_for MANAGER DIR: the shared app code plus the manager's files
  rm -rf "$2" && mkdir -p "$2"
  cp "$APP_DIR/app.py" "$APP_DIR/Procfile" "$2/"
  copy_app "$APP_DIR/$1" "$2"
}

# image_name TARGET NAME ROUND: where a build of NAME goes (a new repository per round in the
# registry, so a cold build never finds a previous image or its layers there).
image_name() {
  if [ "$1" = registry ]; then echo "$BENCH_REPO/$2-r$3-$$"; else echo "blacklodge-bench/$2"; fi
}

pack_build() {  # pack_build TARGET MANAGER APP IMAGE CACHE → seconds
  local target="$1" manager="$2" start end
  local args=(--cache "type=build;format=volume;name=$5-build")
  if [ "$target" = registry ]; then
    args+=(--publish --run-image "$RUN_REF")
  else
    args+=(--cache "type=launch;format=volume;name=$5-launch")
  fi
  start="$(now)"
  pack build "$4" --builder "$BUILDER_IMAGE" --path "$3" \
    --network host --pull-policy if-not-present --trust-builder --verbose "${args[@]}" \
    --env "BP_PYTHON_MANIFEST_URL=$MIRROR_URL/manifest.json" >"$WORK/$target-$manager.log" 2>&1 \
    || { tail -40 "$WORK/$target-$manager.log" >&2; die "pack build ($target, $manager) failed" "see the log above" "fix the build, then re-run"; }
  end="$(now)"
  elapsed "$start" "$end"
}

# phases LOG TOTAL: "restore/build/export(+cache)/outside" seconds from the lifecycle's timers; outside
# = the rest of the wall time (pack: ephemeral builder, container and volume set-up/removal).
phases() {
  local total="$2"
  awk -v total="$total" '
    function secs(v) { if (v ~ /ms$/) return v / 1000; if (v ~ /µs$/) return v / 1000000; if (v ~ /m[0-9.]+s$/) { split(v, p, "m"); return p[1] * 60 + p[2] }; return v + 0 }
    /Timer: (Analyzer|Detector|Restorer|Builder|Exporter|Cache) ran for/ {
      for (i = 1; i <= NF; i++) if ($i == "for") v = $(i + 1)
      sub(/s$/, "", v); v = v "s"
      if ($0 ~ /Restorer/) r += secs(v); else if ($0 ~ /Builder/) b += secs(v); else if ($0 ~ /Exporter|Cache/) e += secs(v); else a += secs(v)
    }
    END { printf "%.1f / %.1f / %.1f / %.1f", a + r, b, e, total - a - r - b - e }' "$1"
}

# The baseline's base image: the build image with our CPython and pip (in a venv: the
# interpreter is marked externally managed), like python:3.x-slim has them. Made once,
# outside the timings (and pushed once, so the registry baseline pushes only its own layers).
baseline_base() {
  local ctx="$WORK/base" url pip_url
  mkdir -p "$ctx"
  url="$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(next(a["url"] for a in m["archives"] if a["version"]=="3.11.2"))' <(curl -fsS "$MIRROR_URL/manifest.json"))"
  curl -fsS -o "$ctx/cpython.tar.gz" "$url"
  pip_url="$(curl -fsS https://pypi.org/simple/pip/ | grep -o 'https://[^"#]*pip-26.3-py3-none-any.whl' | head -1)"
  curl -fsS -o "$ctx/pip-26.3-py3-none-any.whl" "$pip_url"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BUILD_IMAGE
USER root
COPY cpython.tar.gz pip-26.3-py3-none-any.whl /tmp/
RUN tar -C /opt -xzf /tmp/cpython.tar.gz && /opt/python/bin/python3 -m venv --without-pip /venv && /venv/bin/python /tmp/pip-26.3-py3-none-any.whl/pip install --no-cache-dir /tmp/pip-26.3-py3-none-any.whl && rm /tmp/*.whl /tmp/*.tar.gz && chown -R 1000:1000 /venv
ENV PATH=/venv/bin:/opt/python/bin:\$PATH
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build --network host -q -t blacklodge-bench/baseline-base "$ctx" >/dev/null
  docker tag blacklodge-bench/baseline-base "$BENCH_REPO/baseline-base"
  docker push -q "$BENCH_REPO/baseline-base" >/dev/null
}

docker_build() {  # docker_build TARGET APP IMAGE [--no-cache] → seconds (build, then push for the registry)
  local start end
  start="$(now)"
  DOCKER_BUILDKIT=0 docker build --network host ${4:-} -t "$3" "$2" >"$WORK/dockerfile.log" 2>&1 \
    || { tail -40 "$WORK/dockerfile.log" >&2; die "docker build failed" "see the log above" ""; }
  if [ "$1" = registry ]; then
    docker push "$3" >>"$WORK/dockerfile.log" 2>&1 || { tail -20 "$WORK/dockerfile.log" >&2; die "docker push failed" "see the log above" ""; }
  fi
  end="$(now)"
  elapsed "$start" "$end"
}

step "Baseline base image and the run image in the registry (not timed)"
baseline_base
RUN_REF="$BENCH_REPO/run:bookworm"
docker tag "$RUN_IMAGE" "$RUN_REF"
docker push -q "$RUN_REF" >/dev/null
app_for pip "$WORK/dockerfile"
cat >"$WORK/dockerfile/Dockerfile" <<'DOCKERFILE'
FROM blacklodge-bench/baseline-base
WORKDIR /usr/src/app
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
USER 1000:1000
CMD ["sh", "-c", "gunicorn --bind 0.0.0.0:${PORT:-8080} --workers 2 app:app"]
DOCKERFILE
cp "$APP_DIR/app.py" "$WORK/app.py.orig"

declare -A times  # times[target/name/cold|warm] = "s1 s2 ..." over the rounds
declare -A phase_of  # phase_of[target/manager] = "cold phases | warm phases" of the last round
for round in $(seq 1 "$ROUNDS"); do
  for target in $TARGETS; do
    image="$(image_name "$target" dockerfile "$round")"
    cp "$WORK/app.py.orig" "$WORK/dockerfile/app.py"
    step "round $round/$ROUNDS, $target: Dockerfile baseline, cold"
    cold="$(docker_build "$target" "$WORK/dockerfile" "$image" --no-cache)"
    echo "# code-only change" >>"$WORK/dockerfile/app.py"
    step "round $round/$ROUNDS, $target: Dockerfile baseline, warm (code-only change)"
    warm="$(docker_build "$target" "$WORK/dockerfile" "$image")"
    [ "$round" = 1 ] && check_serves "$image"
    info "cold ${cold}s, warm ${warm}s"
    times[$target/dockerfile/cold]+=" $cold"; times[$target/dockerfile/warm]+=" $warm"

    for manager in $MANAGERS; do
      app="$WORK/$manager"
      app_for "$manager" "$app"
      image="$(image_name "$target" "$manager" "$round")"
      cache="$RUN_ID-$target-$manager-r$round"
      docker image rm -f "$image" >/dev/null 2>&1 || true
      step "round $round/$ROUNDS, $target: $manager, cold build"
      cold="$(pack_build "$target" "$manager" "$app" "$image" "$cache")"
      cold_phases="$(phases "$WORK/$target-$manager.log" "$cold")"
      echo "# code-only change" >>"$app/app.py"
      step "round $round/$ROUNDS, $target: $manager, warm rebuild (code-only change)"
      warm="$(pack_build "$target" "$manager" "$app" "$image" "$cache")"
      grep -q "Reusing cached virtual environment" "$WORK/$target-$manager.log" \
        || die "$manager: the warm rebuild did not reuse the venv" "see $WORK/$target-$manager.log" ""
      phase_of[$target/$manager]="$cold_phases | $(phases "$WORK/$target-$manager.log" "$warm")"
      [ "$round" = 1 ] && check_serves "$image"
      info "cold ${cold}s, warm ${warm}s"
      times[$target/$manager/cold]+=" $cold"; times[$target/$manager/warm]+=" $warm"
      docker volume rm -f "$cache-build" "$cache-launch" >/dev/null 2>&1 || true
    done
  done
done

describe() {
  case "$1" in
    daemon) echo "\`pack build\` into the Docker daemon (with pack's launch cache volume) against \`DOCKER_BUILDKIT=0 docker build --network host\`" ;;
    registry) echo "\`pack build --publish\` to the loopback registry $REGISTRY (the run image already there), against \`docker build\` then \`docker push\` to the same registry (the base image already there)" ;;
  esac
}

{
  echo "# Dependency buildpacks: cold and warm builds vs a Dockerfile"
  echo
  echo "Recorded by \`bench/benchmarks/deps.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores; load average before the run: $LOAD_BEFORE; PyPI through the network's TLS proxy)."
  echo "App: \`bench/apps/flask-numpy-pandas\` (Flask 3.1.2, gunicorn 23.0.0, numpy 2.4.6, pandas 3.1.1 and their dependencies), CPython 3.11.2. Medians of $ROUNDS rounds (each value in the table's last column)."
  echo
  echo "- **cold**: \`pack build\` with new build (and launch) cache volumes and no previous image (includes CPython, the installer, all downloads, export)."
  echo "- **warm**: \`pack build\` again after a code-only change to app.py (the venv is reused: no installer run)."
  echo "- **Dockerfile baseline**: the seed's pattern (\`COPY . .\` then \`pip install --no-cache-dir -r requirements.txt\`) \`FROM\` the same build image with the same CPython and pip preinstalled (base made outside the timing); cold = \`--no-cache\`, warm = after the same code change."
  echo
  echo "Goals: warm ≤ 25% of cold; cold no slower than the Dockerfile baseline (ratio ≤ 1.00)."
  for target in $TARGETS; do
    base_cold="$(median ${times[$target/dockerfile/cold]})"
    base_warm="$(median ${times[$target/dockerfile/warm]})"
    echo
    echo "## Export to the $target"
    echo
    echo "$(describe "$target"). Baseline: cold **${base_cold}s**, warm **${base_warm}s** (rounds: cold${times[$target/dockerfile/cold]}; warm${times[$target/dockerfile/warm]})."
    echo
    echo "| manager | cold (s) | warm (s) | warm / cold | cold / Dockerfile cold | warm / Dockerfile warm | rounds (cold; warm) |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
    for manager in $MANAGERS; do
      cold="$(median ${times[$target/$manager/cold]})"
      warm="$(median ${times[$target/$manager/warm]})"
      echo "| $manager | $cold | $warm | $(ratio "$warm" "$cold") | $(ratio "$cold" "$base_cold") | $(ratio "$warm" "$base_warm") |${times[$target/$manager/cold]};${times[$target/$manager/warm]} |"
    done
    echo
    echo "Where the seconds go in the last round (lifecycle timers; analyze + detect + restore / build / export + cache / outside the lifecycle: pack's ephemeral builder, the build container and the removal of its volumes):"
    echo
    echo "| manager | cold: restore / build / export / outside | warm: restore / build / export / outside |"
    echo "| --- | --- | --- |"
    for manager in $MANAGERS; do
      echo "| $manager | ${phase_of[$target/$manager]} |"
    done
  done
} >"$RESULTS.new"
# The hand-written reading of the numbers (from "## Reading the numbers" on) is kept.
if grep -q '^## Reading the numbers' "$RESULTS" 2>/dev/null; then
  { echo; sed -n '/^## Reading the numbers/,$p' "$RESULTS"; } >>"$RESULTS.new"
fi
mv "$RESULTS.new" "$RESULTS"
for target in $TARGETS; do
  for manager in $MANAGERS; do
    printf '%s\tratio\t%s\t<= 1.0\t%s\n' "$target: $manager cold / Dockerfile cold" "the seed Dockerfile's cold build, same round" \
      "$(bench_pairs "${times[$target/$manager/cold]}" "${times[$target/dockerfile/cold]}")"
    printf '%s\tratio\t%s\t<= 0.25\t%s\n' "$target: $manager warm / cold" "its own cold build, same round" \
      "$(bench_pairs "${times[$target/$manager/warm]}" "${times[$target/$manager/cold]}")"
    printf '%s\tratio\t%s\t\t%s\n' "$target: $manager warm / Dockerfile warm" "the seed Dockerfile's warm build, same round" \
      "$(bench_pairs "${times[$target/$manager/warm]}" "${times[$target/dockerfile/warm]}")"
  done
done | bench_results deps
cat "$RESULTS"
