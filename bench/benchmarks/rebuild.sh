#!/usr/bin/env bash
# Benchmark of cold builds and warm code-only rebuilds against two same-run baselines
# (recorded, not a timed test), for bench/apps/flask-numpy-pandas (pip flavour, CPython 3.11):
#
# - floor: the same pack, lifecycle and stack running bench/floor, a no-op buildpack that keeps
#   one launch layer of FLOOR_MB megabytes by metadata and declares a process (the builder
#   blacklodge/floor:<suite> is made here). What any buildpack pays for that much launch data.
# - ours: the bench's builder ($BLACKLODGE_BUILDER).
# - dockerfile: the best-practice Dockerfile (bench/baseline: a base with our CPython and uv,
#   `COPY requirements.txt` → `uv pip install` → `COPY . .`), legacy builder; on the registry
#   path followed by `docker push`.
#
# Two export paths: daemon (`pack build` with pack's launch cache volume; `docker build`) and
# registry (`pack build --publish` to the bench registry; `docker build` + `docker push`).
# Every round builds every subject cold (new cache volumes, a new repository, no previous
# image) then warm after a code-only change to app.py; the subjects of a round run back to
# back, so ratios are taken per round (paired) and the page shows their median and spread.
#
#   bench/benchmarks/rebuild.sh     # writes bench/results/rebuild.{md,json}
#
# Knobs: ROUNDS (3), TARGETS ("daemon registry"), FLOOR_MB (157: our runtime + venv),
# BEFORE_BUILDER (a second builder of ours, e.g. main's, measured in the same rounds as
# "before": before/after figures paired like the rest).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

NAME=rebuild
APP_DIR="$BENCH_DIR/apps/flask-numpy-pandas"
RESULTS_DIR="${RESULTS_DIR:-$BENCH_DIR/results}"
ROUNDS="${ROUNDS:-3}"
TARGETS="${TARGETS:-daemon registry}"
FLOOR_MB="${FLOOR_MB:-157}"
SUBJECTS="floor ours dockerfile"
BEFORE_BUILDER="${BEFORE_BUILDER:-}"
[ -z "$BEFORE_BUILDER" ] || SUBJECTS="floor before ours dockerfile"
WORK="$(mktemp -d)"
RUN_ID="rebuild-bench-$$"
BENCH_REPO="$REGISTRY/blacklodge-bench"
LOAD_BEFORE="$(cut -d" " -f1 /proc/loadavg)"
use_stack "$DEFAULT_SUITE"
FLOOR_BUILDER="blacklodge/floor:$DEBIAN_SUITE"

cleanup() {
  rm -rf "$WORK"
  docker image rm $(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^(blacklodge-bench/$NAME-|$BENCH_REPO/$NAME-)") >/dev/null 2>&1 || true
  # The Dockerfile's cold images, untagged by the warm build of the same name (their own ids).
  docker image rm $(docker images --format '{{.Repository}} {{.Tag}} {{.ID}}' | awk -v repo="^($BENCH_REPO|blacklodge-bench)/$NAME-dockerfile" '$1 ~ repo && $2 == "<none>" { print $3 }') >/dev/null 2>&1 || true
  docker volume rm -f $(docker volume ls -q | grep "^$RUN_ID") >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

step "The floor builder $FLOOR_BUILDER (bench/floor on the $DEBIAN_SUITE stack)"
cat >"$WORK/floor-builder.toml" <<TOML
description = "Bench floor: a no-op buildpack on the Blacklodge $DEBIAN_SUITE stack"
[[buildpacks]]
uri = "$BENCH_DIR/floor"
[[order]]
[[order.group]]
id = "blacklodge-bench/floor"
version = "0.1.0"
[lifecycle]
uri = "$LIFECYCLE_TGZ"
[build]
image = "$BUILD_IMAGE"
[run]
[[run.images]]
image = "$RUN_IMAGE"
[stack]
id = "$STACK_ID"
build-image = "$BUILD_IMAGE"
run-image = "$RUN_IMAGE"
TOML
run_logged "pack builder create (floor)" "$WORK/floor-builder.log" \
  pack builder create "$FLOOR_BUILDER" --config "$WORK/floor-builder.toml" --pull-policy never

step "The Dockerfile's base image and the run image in the registry (not timed)"
BASE_IMAGE_NAME="blacklodge-bench/$NAME-base"
"$BENCH_DIR/baseline/base.sh" "$BUILD_IMAGE" "$BASE_IMAGE_NAME" "$WORK/base"
docker tag "$BASE_IMAGE_NAME" "$BENCH_REPO/$NAME-base"
docker push -q "$BENCH_REPO/$NAME-base" >/dev/null
RUN_REF="$BENCH_REPO/$NAME-run:$DEBIAN_SUITE"
docker tag "$RUN_IMAGE" "$RUN_REF"
docker push -q "$RUN_REF" >/dev/null

app_copy() {  # app_copy DIR: the pip flavour of the app, on CPython 3.11 like the Dockerfile's base
  rm -rf "$1" && mkdir -p "$1"
  cp "$APP_DIR/app.py" "$APP_DIR/Procfile" "$APP_DIR/pip/requirements.txt" "$1/"
  echo 3.11 >"$1/.python-version"
}

image_name() {  # image_name TARGET SUBJECT ROUND: a new registry repository per round
  if [ "$1" = registry ]; then echo "$BENCH_REPO/$NAME-$2-r$3-$$"; else echo "blacklodge-bench/$NAME-$2"; fi
}

# build TARGET SUBJECT APP IMAGE CACHE LOG → seconds
build() {
  local target="$1" subject="$2" app="$3" image="$4" cache="$5" log="$6" start end
  start="$(now)"
  if [ "$subject" = dockerfile ]; then
    {
      DOCKER_BUILDKIT=0 docker build --network host ${NO_CACHE:-} --build-arg "BASE=$(base_for "$target")" \
        -f "$BENCH_DIR/baseline/Dockerfile" -t "$image" "$app" \
        && if [ "$target" = registry ]; then docker push "$image"; fi
    } >"$log" 2>&1 || { tail -30 "$log" >&2; die "the Dockerfile build ($target) failed" "see the log above" ""; }
  else
    local builder="$BUILDER_IMAGE" args=(--cache "type=build;format=volume;name=$cache-build")
    [ "$subject" = floor ] && builder="$FLOOR_BUILDER"
    [ "$subject" = before ] && builder="$BEFORE_BUILDER"
    if [ "$target" = registry ]; then args+=(--publish --run-image "$RUN_REF")
    else args+=(--cache "type=launch;format=volume;name=$cache-launch"); fi
    pack build "$image" --builder "$builder" --path "$app" --network host --pull-policy if-not-present \
      --trust-builder --verbose --timestamps "${args[@]}" --env "BP_FLOOR_MB=$FLOOR_MB" \
      --env "BP_PYTHON_MANIFEST_URL=$MIRROR_URL/manifest.json" >"$log" 2>&1 \
      || { tail -40 "$log" >&2; die "pack build ($target, $subject) failed" "see the log above" "fix the build, then re-run"; }
  fi
  end="$(now)"
  elapsed "$start" "$end"
}
base_for() { if [ "$1" = registry ]; then echo "$BENCH_REPO/$NAME-base"; else echo "$BASE_IMAGE_NAME"; fi; }

# phases LOG: the lifecycle's timers, "analyze detect restore build export cache" in seconds.
phases() {
  awk '
    function secs(v) { if (v ~ /ms$/) { sub(/ms$/, "", v); return v / 1000 }
                       if (v ~ /µs$/) { sub(/µs$/, "", v); return v / 1000000 }
                       if (v ~ /m[0-9.]+s$/) { sub(/s$/, "", v); split(v, p, "m"); return p[1] * 60 + p[2] }
                       sub(/s$/, "", v); return v + 0 }
    /Timer: [A-Za-z]+ ran for/ { for (i = 1; i <= NF; i++) if ($i == "ran") { name = $(i - 1); v = $(i + 2) }; t[name] += secs(v) }
    END { printf "%.3f %.3f %.3f %.3f %.3f %.3f", t["Analyzer"], t["Detector"], t["Restorer"], t["Builder"], t["Exporter"], t["Cache"] }' "$1"
}

RAW="$WORK/raw.tsv"  # round target subject kind seconds analyze detect restore build export cache
LOGS="${LOGS_DIR:-$BLACKLODGE_CACHE/bench-logs/$NAME}"  # the last round's logs (pack --timestamps)
mkdir -p "$LOGS"
for round in $(seq 1 "$ROUNDS"); do
  for target in $TARGETS; do
    for subject in $SUBJECTS; do
      app="$WORK/app-$subject"
      app_copy "$app"
      image="$(image_name "$target" "$subject" "$round")"
      cache="$RUN_ID-$target-$subject-r$round"
      docker image rm -f "$image" >/dev/null 2>&1 || true
      for kind in cold warm; do
        log="$WORK/$target-$subject-$kind.log"
        step "round $round/$ROUNDS, $target: $subject, $kind"
        if [ "$kind" = warm ]; then echo "# code-only change $round" >>"$app/app.py"; fi
        NO_CACHE=''; [ "$kind" = warm ] || NO_CACHE=--no-cache
        seconds="$(build "$target" "$subject" "$app" "$image" "$cache" "$log")"
        info "${seconds}s (load $(cut -d' ' -f1 /proc/loadavg))"
        if [ "$subject" != floor ] && [ "$subject" != dockerfile ] && [ "$kind" = warm ]; then
          grep -q "Reusing cached virtual environment" "$log" \
            || die "the warm rebuild did not reuse the venv" "see $log" ""
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$target" "$subject" "$kind" "$seconds" \
          "$(if [ "$subject" = dockerfile ]; then echo "- - - - - -"; else phases "$log"; fi | tr ' ' '\t')" >>"$RAW"
        [ "$round" = "$ROUNDS" ] && cp "$log" "$LOGS/"
      done
      if [ "$round" = 1 ] && [ "$subject" != floor ]; then check_serves "$image" 18290; fi
      docker volume rm -f "$cache-build" "$cache-launch" >/dev/null 2>&1 || true
    done
  done
done

info "the last round's logs: $LOGS"
python3 "$BENCH_DIR/benchmarks/rebuild_report.py" "$RAW" "$RESULTS_DIR" "$NAME" \
  "bench/benchmarks/rebuild.sh" "$LOAD_BEFORE" "$FLOOR_MB" "$ROUNDS" \
  "pack $(pack version)" "lifecycle $LIFECYCLE_VERSION" "$(docker version -f 'docker {{.Server.Version}}')" \
  "builder $BUILDER_IMAGE" "floor $FLOOR_BUILDER" ${BEFORE_BUILDER:+"before $BEFORE_BUILDER"}
cat "$RESULTS_DIR/$NAME.md"
