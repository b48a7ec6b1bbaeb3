#!/usr/bin/env bash
# Benchmark of the OS packages buildpack (recorded, not a timed test).
#
# For tests/fixtures/apt-psycopg2 (Aptfile: libpq-dev; requirements.txt: the psycopg2 sdist):
# - the time of the OS packages step (from its header to the next buildpack's, pack's log
#   timestamps) in a cold build (new cache volumes, no previous image) and in a warm rebuild
#   after a code-only change;
# - the bytes the packages add to the image: the layer (/layers/blacklodge_apt/packages,
#   `du -sb` in the container) against a Dockerfile that `apt-get install`s the same packages
#   FROM the same run image (image size minus the run image's), and that Dockerfile's build
#   time (--no-cache) for reference.
#
#   bench/benchmarks/apt.sh            # writes bench/results/apt.md
#
# Knobs: ROUNDS (3). Needs the bench (bench/setup); uses $BLACKLODGE_BUILDER.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

APP_DIR="$REPO_DIR/tests/fixtures/apt-psycopg2"
RESULTS="${RESULTS:-$BENCH_DIR/results/apt.md}"
WORK="$(mktemp -d)"
RUN_ID="apt-bench-$$"
IMAGE="blacklodge-bench/apt-$$"
BASELINE="blacklodge-bench/apt-dockerfile-$$"
LOAD_BEFORE="$(cut -d" " -f1-3 /proc/loadavg)"
ROUNDS="${ROUNDS:-$(bench_default 3 1)}"
bench_begin ROUNDS BLACKLODGE_BUILDER
PACKAGES="$(grep -v '^#' "$APP_DIR/Aptfile" | xargs)"
cleanup() {
  rm -rf "$WORK"
  docker image rm "$IMAGE" "$BASELINE" >/dev/null 2>&1 || true
  docker volume rm -f $(docker volume ls -q | grep "^$RUN_ID") >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }

# step_seconds LOG: seconds from "## Blacklodge OS packages" to the next buildpack's header.
# pack stamps most lines, not all: a line without a stamp takes the last one seen (the header's
# own print starts with the empty line before it).
step_seconds() {
  awk '
    function stamp(i, parts) {
      for (i = 1; i <= NF; i++) if ($i ~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]/) { split($i, parts, ":"); last = parts[1] * 3600 + parts[2] * 60 + parts[3]; return last }
      return last
    }
    { now = stamp() }
    /## Blacklodge OS packages$/ { start = now; next }
    start && /## Blacklodge / { printf "%.1f\n", now - start; exit }
  ' "$1"
}

pack_build() {  # pack_build APP ROUND KIND → the step's seconds
  pack build "$IMAGE" --builder "$BUILDER_IMAGE" --path "$1" --timestamps \
    --network host --pull-policy if-not-present --trust-builder \
    --cache "type=build;format=volume;name=$RUN_ID-$2-build" \
    --cache "type=launch;format=volume;name=$RUN_ID-$2-launch" \
    --env "BP_PYTHON_MANIFEST_URL=$MIRROR_URL/manifest.json" >"$WORK/$2-$3.log" 2>&1 \
    || { tail -40 "$WORK/$2-$3.log" >&2; die "pack build ($3, round $2) failed" "see the log above" "fix the build, then re-run"; }
  step_seconds "$WORK/$2-$3.log"
}

cold=() warm=() docker_cold=()
for round in $(seq "$ROUNDS"); do
  step "Round $round of $ROUNDS"
  app="$WORK/app-$round"
  rm -rf "$app" && copy_app "$APP_DIR" "$app"
  docker image rm "$IMAGE" >/dev/null 2>&1 || true
  cold+=("$(pack_build "$app" "$round" cold)")
  echo "# round $round" >>"$app/app.py"
  warm+=("$(pack_build "$app" "$round" warm)")
  info "OS packages step: cold ${cold[-1]}s, warm ${warm[-1]}s"

  # The Dockerfile baseline: the same packages with apt-get on the same run image.
  mkdir -p "$WORK/docker"
  cat >"$WORK/docker/Dockerfile" <<DOCKERFILE
FROM $RUN_IMAGE
USER root
RUN apt-get update && apt-get install -y --no-install-recommends $PACKAGES \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
USER 1000:1000
DOCKERFILE
  start="$(now)"
  DOCKER_BUILDKIT=0 docker build --no-cache --network host -t "$BASELINE" "$WORK/docker" >"$WORK/docker-$round.log" 2>&1 \
    || { tail -20 "$WORK/docker-$round.log" >&2; die "the Dockerfile baseline failed" "see the log above" "check that the run image's apt sources are reachable"; }
  docker_cold+=("$(elapsed "$start" "$(now)")")
done

layer_bytes="$(docker run --rm --entrypoint du "$IMAGE" -sb /layers/blacklodge_apt/packages | cut -f1)"
installed="$(grep -o 'Installing [0-9]* packages\?: .*' "$WORK/1-cold.log" | head -1)"
base_bytes="$(docker image inspect --format '{{.Size}}' "$RUN_IMAGE")"
docker_bytes="$(( $(docker image inspect --format '{{.Size}}' "$BASELINE") - base_bytes ))"
docker_installed="$(sed -n '/The following NEW packages will be installed:/,/newly installed/p' "$WORK/docker-1.log" | sed '1d;$d' | xargs)"

{
  echo "# OS packages buildpack: layer time and size vs a Dockerfile"
  echo
  echo "Recorded by \`bench/benchmarks/apt.sh\` on $(date -u +%Y-%m-%d) (2 cores shared; load average before the run: $LOAD_BEFORE; Debian's archive through the network's TLS proxy)."
  echo "App: \`tests/fixtures/apt-psycopg2\` (Aptfile: \`$PACKAGES\`; psycopg2 2.9.10 built from its sdist), run image \`$RUN_IMAGE\`. Medians of $ROUNDS rounds."
  echo
  echo "- **cold**: the OS packages step (its header to the next buildpack's, pack's log timestamps) with new cache volumes: signed indices, resolution, downloads, unpacking."
  echo "- **warm**: the same step in a rebuild after a code-only change (the layer is reused; the archive is not read)."
  echo "- **Dockerfile**: \`apt-get update && apt-get install -y --no-install-recommends $PACKAGES && apt-get clean\` (and the lists and caches removed) FROM the run image, \`docker build --no-cache\` (whole build)."
  echo
  echo "| | cold (s) | warm (s) | rounds |"
  echo "| --- | ---: | ---: | --- |"
  echo "| OS packages step | $(median "${cold[@]}") | $(median "${warm[@]}") | ${cold[*]}; ${warm[*]} |"
  echo "| Dockerfile apt-get (whole build) | $(median "${docker_cold[@]}") | | ${docker_cold[*]} |"
  echo
  echo "## Size"
  echo
  echo "| | bytes added (MB, uncompressed) |"
  echo "| --- | ---: |"
  echo "| blacklodge/apt layer | $(mb "$layer_bytes") |"
  echo "| Dockerfile apt-get layer (image minus run image) | $(mb "$docker_bytes") |"
  echo
  echo "- blacklodge/apt: ${installed:-?}"
  echo "- apt-get installs: ${docker_installed:-?}"
} >"$RESULTS"
step "Wrote $RESULTS"
{
  printf '%s\tratio\t%s\t\t%s\n' "OS packages step, cold / Dockerfile apt-get build" "the Dockerfile's whole --no-cache build, same round" \
    "$(bench_pairs "${cold[*]}" "${docker_cold[*]}")"
  printf '%s\tratio\t%s\t\t%s\n' "bytes added: blacklodge/apt layer / Dockerfile apt-get layer" "the Dockerfile's apt-get layer" "$layer_bytes/$docker_bytes"
  printf '%s\ts\t–\t\t%s\n' "OS packages step, cold" "${cold[*]}"
  printf '%s\ts\t–\t\t%s\n' "OS packages step, warm" "${warm[*]}"
} | bench_results apt
cat "$RESULTS"
