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
# Needs the bench (bench/setup); uses $BLACKLODGE_BUILDER (default: the bench's builder).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

APP_DIR="$BENCH_DIR/apps/flask-numpy-pandas"
RESULTS="$BENCH_DIR/results/deps.md"
WORK="$(mktemp -d)"
RUN_ID="deps-bench-$$"
trap 'rm -rf "$WORK"; docker image rm -f $(docker images -q "blacklodge-bench/*" 2>/dev/null) >/dev/null 2>&1 || true; docker volume rm -f $(docker volume ls -q | grep "^$RUN_ID") >/dev/null 2>&1 || true' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

app_for() {  # app_for MANAGER DIR: the shared app code plus the manager's files
  rm -rf "$2" && mkdir -p "$2"
  cp "$APP_DIR/app.py" "$APP_DIR/Procfile" "$2/"
  cp -a "$APP_DIR/$1/." "$2/"
}

pack_build() {  # pack_build MANAGER APP → seconds
  local start end
  start="$(now)"
  pack build "blacklodge-bench/$1" --builder "$BUILDER_IMAGE" --path "$2" \
    --network host --pull-policy if-not-present --trust-builder --verbose \
    --cache "type=build;format=volume;name=$RUN_ID-$1-build" \
    --cache "type=launch;format=volume;name=$RUN_ID-$1-launch" \
    --env "BP_PYTHON_MANIFEST_URL=$MIRROR_URL/manifest.json" >"$WORK/$1.log" 2>&1 \
    || { tail -40 "$WORK/$1.log" >&2; die "pack build ($1) failed" "see the log above" "fix the build, then re-run"; }
  end="$(now)"
  elapsed "$start" "$end"
}

# phases LOG: "restore/build/export(+cache)/outside" seconds from the lifecycle's timers; outside
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

check_serves() {  # check_serves IMAGE
  local port=18090 container
  container="$(docker run -d --rm --network host -e PORT=$port "$1")"
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; then docker rm -f "$container" >/dev/null; return 0; fi
    sleep 0.5
  done
  docker logs "$container" >&2; docker rm -f "$container" >/dev/null
  die "$1 does not serve" "the built image did not answer on /" "see its log above"
}

# The baseline's base image: the build image with our CPython and pip (in a venv: the
# interpreter is marked externally managed), like python:3.x-slim has them. Made once,
# outside the timings.
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
}

docker_build() {  # docker_build APP [--no-cache] → seconds
  local start end
  start="$(now)"
  DOCKER_BUILDKIT=0 docker build --network host ${2:-} -t blacklodge-bench/dockerfile "$1" >"$WORK/dockerfile.log" 2>&1 \
    || { tail -40 "$WORK/dockerfile.log" >&2; die "docker build failed" "see the log above" ""; }
  end="$(now)"
  elapsed "$start" "$end"
}

step "Dockerfile baseline base image (not timed)"
baseline_base
app_for pip "$WORK/dockerfile"
cat >"$WORK/dockerfile/Dockerfile" <<'DOCKERFILE'
FROM blacklodge-bench/baseline-base
WORKDIR /usr/src/app
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
USER 1000:1000
CMD ["sh", "-c", "gunicorn --bind 0.0.0.0:${PORT:-8080} --workers 2 app:app"]
DOCKERFILE
step "Dockerfile baseline: cold"
base_cold="$(docker_build "$WORK/dockerfile" --no-cache)"
echo "# code-only change" >>"$WORK/dockerfile/app.py"
step "Dockerfile baseline: warm (code-only change)"
base_warm="$(docker_build "$WORK/dockerfile")"
check_serves blacklodge-bench/dockerfile
info "cold ${base_cold}s, warm ${base_warm}s"

rows=()
phase_rows=()
for manager in pip uv poetry pipenv; do
  app="$WORK/$manager"
  app_for "$manager" "$app"
  step "$manager: cold build"
  cold="$(pack_build "$manager" "$app")"
  cold_phases="$(phases "$WORK/$manager.log" "$cold")"
  echo "# code-only change" >>"$app/app.py"
  step "$manager: warm rebuild (code-only change)"
  warm="$(pack_build "$manager" "$app")"
  grep -q "Reusing cached virtual environment" "$WORK/$manager.log" \
    || die "$manager: the warm rebuild did not reuse the venv" "see $WORK/$manager.log" ""
  warm_phases="$(phases "$WORK/$manager.log" "$warm")"
  check_serves "blacklodge-bench/$manager"
  info "cold ${cold}s, warm ${warm}s"
  rows+=("| $manager | $cold | $warm | $(ratio "$warm" "$cold") | $(ratio "$cold" "$base_cold") | $(ratio "$warm" "$base_warm") |")
  phase_rows+=("| $manager | $cold_phases | $warm_phases |")
done

{
  echo "# Dependency buildpacks: cold and warm builds vs a Dockerfile"
  echo
  echo "Recorded by \`bench/benchmarks/deps.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores shared with other work; PyPI through the network's TLS proxy)."
  echo "App: \`bench/apps/flask-numpy-pandas\` (Flask 3.1.2, gunicorn 23.0.0, numpy 2.4.6, pandas 3.1.1 and their dependencies), CPython 3.11.2."
  echo
  echo "- **cold**: \`pack build\` with empty build/launch caches (includes CPython, the installer, all downloads, export)."
  echo "- **warm**: \`pack build\` again after a code-only change to app.py (the venv is reused: no installer run)."
  echo "- **Dockerfile baseline**: the seed's pattern (\`COPY . .\` then \`pip install --no-cache-dir -r requirements.txt\`) \`FROM\` the same build image with the same CPython and pip preinstalled (base made outside the timing), \`DOCKER_BUILDKIT=0 docker build --network host\`; cold = \`--no-cache\`, warm = after the same code change. Baseline: cold **${base_cold}s**, warm **${base_warm}s**."
  echo
  echo "| manager | cold (s) | warm (s) | warm / cold | cold / Dockerfile cold | warm / Dockerfile warm |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Goals: warm ≤ 25% of cold; cold no slower than the Dockerfile baseline (ratio ≤ 1.00)."
  echo
  echo "Where the seconds go (lifecycle timers of the same builds; analyze + detect + restore / build / export + cache / outside the lifecycle: pack's ephemeral builder, the build container and the removal of its volumes):"
  echo
  echo "| manager | cold: restore / build / export / outside | warm: restore / build / export / outside |"
  echo "| --- | --- | --- |"
  printf '%s\n' "${phase_rows[@]}"
} >"$RESULTS"
cat "$RESULTS"
