#!/usr/bin/env bash
# Benchmark of start time (recorded, not a timed test): from `docker run` to the first HTTP 200,
# for the Procfile app (bench/apps/flask-numpy-pandas: GET /) and the wrapped function
# (examples/wrapped-function: POST /predict), our image (pack, the bench's builder) against the
# same app in the multi-stage Dockerfile image (bench/benchmarks/images/Dockerfile; the
# function as a Flask app on gunicorn, 2 workers). Results: bench/results/start.md and start.json.
#
# Paired rounds: in each round both images of an app start one after the other, the order
# alternating; a figure is the median of the per-round ratios (the machine is shared and its
# speed moves). The clock starts before `docker run -d` and stops at the first 200 of a curl
# polled every 10 ms. Then, for our images, where the time goes: the same container start with
# the process replaced by `true` (Docker's own share), through the CNB launcher (its share and
# the exec.d programs'), through bash with the profile.d scripts, and the app's imports.
#
#   bench/benchmarks/start.sh
#
# Knobs: ROUNDS (9; quick 3), RESULTS (the page; the results file goes next to it), BENCH_RUN_IMAGE (the run image; default the stack's), PORT (18310).
# Needs the bench (bench/setup); uses $BLACKLODGE_BUILDER.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$BENCH_DIR/benchmarks/images/common.sh"
ROUNDS="${ROUNDS:-$(bench_default 9 3)}"
PORT="${PORT:-18310}"
bench_begin ROUNDS BENCH_RUN_IMAGE BLACKLODGE_BUILDER

RESULTS="${RESULTS:-$BENCH_DIR/results/start.md}"
WORK="$(mktemp -d)"
PREFIX="blacklodge-bench-start-$$"
cleanup() {
  docker rm -f "$PREFIX-c" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  remove_images "$PREFIX"
}
trap cleanup EXIT
docker_ok || die "no Docker daemon" "the benchmark runs images" "run bench/setup first"

now() { date +%s.%N; }

# first_200 APP IMAGE: seconds from `docker run` to the first 200 of the app's request.
first_200() {
  local started ended request
  mapfile -t request < <(app_request "$1" "$PORT")
  started="$(now)"
  docker run -d --name "$PREFIX-c" --network host -e "PORT=$PORT" "$2" >/dev/null
  for _ in $(seq 1 6000); do
    if curl -fsS -o /dev/null --max-time 2 "${request[@]}" 2>/dev/null; then
      ended="$(now)"
      docker rm -f "$PREFIX-c" >/dev/null
      awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", b - a }'
      return
    fi
    sleep 0.01
  done
  docker logs "$PREFIX-c" >&2
  die "$2 did not answer 200 within a minute" "its log is above" "fix the image, then re-run"
}

# seconds COMMAND...: wall time of a command that runs to its end.
seconds() {
  local started ended
  started="$(now)"
  "$@" >/dev/null 2>&1 || die "'$*' failed" "it should run to its end" "run it by hand to see why"
  ended="$(now)"
  awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.3f", b - a }'
}

# The parts of a start, each timed as a container that runs it to its end (`docker run --rm`):
#   docker: the process replaced by /bin/true (Docker's create, start, exit and removal);
#   launcher: ours only, the CNB launcher running /bin/true directly (the launcher and the
#     exec.d programs; `--` makes the command direct, as our web processes are);
#   bash: ours only, the launcher running `true` through bash (the profile.d scripts: how a
#     Procfile command runs);
#   python: the interpreter started with the image's environment (`python3 -c pass`);
#   imports: the app's module imported (the Procfile app's app.py; for the function, the
#     harness's command line up to its help, and the Flask app of the Dockerfile).
PARTS=(docker launcher bash python imports)
part_command() {  # part_command PART APP KIND: docker run's arguments, one a line (none: not measured)
  local image="$PREFIX-$3-$2" launch
  if [ "$3" = ours ]; then launch=(--entrypoint /cnb/lifecycle/launcher "$image" --); else launch=(--entrypoint /usr/bin/env "$image"); fi
  case "$1/$2/$3" in
    docker/*) printf '%s\n' --entrypoint /bin/true "$image" ;;
    launcher/*/ours) printf '%s\n' "${launch[@]}" /bin/true ;;
    bash/*/ours) printf '%s\n' --entrypoint /cnb/lifecycle/launcher "$image" true ;;
    python/*) printf '%s\n' "${launch[@]}" python3 -c pass ;;
    imports/procfile/ours) printf '%s\n' --workdir /workspace "${launch[@]}" python3 -c 'import app' ;;
    imports/function/ours) printf '%s\n' "${launch[@]}" /layers/blacklodge_wrapper/harness/bin/blacklodge --help ;;
    imports/*/dockerfile) printf '%s\n' --workdir /app "${launch[@]}" python3 -c 'import app' ;;
  esac
}

for name in "${APP_NAMES[@]}"; do
  step "App $name: the multi-stage Dockerfile image, then ours"
  build_dockerfile "$name" "$PREFIX-dockerfile-$name" "$WORK/dockerfile-$name.log"
  build_ours "$name" "$PREFIX-ours-$name" "$WORK/ours-$name.log"
done

: >"$WORK/times.tsv"
for round in $(seq 1 "$ROUNDS"); do
  for name in "${APP_NAMES[@]}"; do
    if [ $((round % 2)) = 1 ]; then order=(ours dockerfile); else order=(dockerfile ours); fi
    for kind in "${order[@]}"; do
      printf '%s\t%s\t%s\t%s\n' "$round" "$name" "$kind" "$(first_200 "$name" "$PREFIX-$kind-$name")" >>"$WORK/times.tsv"
    done
    # Where the time goes: the same container start with the process replaced, on both images.
    for part in "${PARTS[@]}"; do
      for kind in ours dockerfile; do
        mapfile -t command < <(part_command "$part" "$name" "$kind")
        [ "${#command[@]}" -gt 0 ] || continue
        printf '%s\t%s\t%s\t%s\n' "$round" "$name" "$kind:$part" \
          "$(seconds docker run --rm --network none "${command[@]}")" >>"$WORK/times.tsv"
      done
    done
  done
  info "round $round/$ROUNDS done"
done

PYTHONPATH="$BENCH_DIR/benchmarks" python3 - "$WORK/times.tsv" "$RESULTS" "$ROUNDS" <<'PY'
import collections, pathlib, statistics, sys
import results

times_file, out, rounds = sys.argv[1:4]
times = collections.defaultdict(dict)  # (app, what) -> {round: seconds}
for line in open(times_file).read().splitlines():
    round_, app, what, seconds = line.split("\t")
    times[(app, what)][int(round_)] = float(seconds)
apps = {"procfile": "Procfile app (flask-numpy-pandas, GET /)",
        "function": "wrapped function (POST /predict)"}
rows = []
for app, label in apps.items():
    ours, theirs = times[(app, "ours")], times[(app, "dockerfile")]
    rows.append(results.row(f"start to first 200, {label}: ours / multi-stage Dockerfile", "ratio",
                            "the same app's multi-stage Dockerfile image, same round",
                            [ours[r] / theirs[r] for r in sorted(ours)], "<= 1.0"))
    rows.append(results.row(f"start to first 200, {label}: ours", "s", "–", list(ours.values())))
    rows.append(results.row(f"start to first 200, {label}: Dockerfile", "s", "–", list(theirs.values())))
results.write("start", rows, pathlib.Path(out).parent)
meta = results.document("start", rows)
parts = ["docker", "launcher", "bash", "python", "imports"]
def med(app, what):
    values = times.get((app, what))
    return f"{statistics.median(values.values()):.2f}" if values else "–"
reading = results.kept_reading(out)
with open(out, "w") as f:
    f.write("# Start time: container start to the first HTTP 200\n\n")
    f.write(f"Recorded {meta['date']} by `{meta['command']}` (load average before: {meta['load_before']}; "
            f"{rounds} paired rounds, the order alternating; seconds).\n\n")
    f.write(results.markdown_table(rows))
    f.write("\n## Where the time goes (medians, seconds)\n\n"
            "Each part is a container run to its end with the process replaced (`docker run --rm`), "
            "so each includes Docker's own cost (the `docker` row); the difference between rows is "
            "the part's own time. `launcher`: the CNB launcher running `/bin/true` directly (with the "
            "exec.d programs); `bash`: the launcher running `true` through bash (the profile.d "
            "scripts, as for a Procfile command); `python`: `python3 -c pass` in the image's "
            "environment; `imports`: the app module imported (for our function, the harness's "
            "command line up to its help).\n\n")
    f.write("| part | " + " | ".join(f"{label}: {kind}" for label in apps for kind in ("ours", "Dockerfile")) + " |\n")
    f.write("| --- |" + " ---: |" * 4 + "\n")
    for part in ["first 200"] + parts:
        cells = []
        for app in apps:
            for kind in ("ours", "dockerfile"):
                cells.append(med(app, kind if part == "first 200" else f"{kind}:{part}"))
        f.write(f"| {part} | " + " | ".join(cells) + " |\n")
    f.write("\nEvery measurement (round, app, what, seconds):\n\n```\n" + open(times_file).read() + "```\n")
    f.write(reading)
print(f"wrote {out}", file=sys.stderr)
PY
