#!/usr/bin/env bash
# Benchmark of the CPython runtime layer (recorded, not a timed test): cold install (empty
# build cache), warm rebuild (cache reused, app unchanged), and the runtime's share of the
# whole `pack build`, for both bench CPython versions and for an app with dependencies.
#
# Usage: bench/benchmarks/python-runtime.sh  (after bench/setup; BENCH_REPEAT=3 by default)
# Writes bench/results/python-runtime.md (medians) and keeps every build's numbers in it.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$REPO_DIR"

REPEAT="${BENCH_REPEAT:-$(bench_default 3 1)}"
bench_begin BENCH_REPEAT BLACKLODGE_BUILDER
RESULTS="${RESULTS:-$REPO_DIR/bench/results/python-runtime.md}"
RAW="$(mktemp)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK" "$RAW"' EXIT

docker_ok || die "no Docker daemon" "the benchmark builds with pack" "run bench/setup first"
curl -fsS -o /dev/null "$MIRROR_URL/manifest.json" || die "the CPython mirror does not answer" "$MIRROR_URL" "run bench/setup first"

# Parses one `pack build --timestamps` log. pack stamps each chunk of output it receives,
# not each line, so phase times are taken between the chunks that print the phase headers
# (accurate to the chunk, a few ms here); the runtime buildpack's own time and its steps
# come from its log ("done (1.2s)", "Done (3.4s)"), measured inside the buildpack.
# Prints: restore-phase export-phase runtime-buildpack download extract bytecode layer-state
parse_log() {
  python3 - "$1" <<'PY'
import datetime, re, sys
stamp = re.compile(r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+) ?")
lines, last = [], None
for raw in open(sys.argv[1], encoding="utf-8", errors="replace"):
    for found in stamp.findall(raw):
        last = datetime.datetime.strptime(found, "%Y/%m/%d %H:%M:%S.%f")
    lines.append((last, stamp.sub("", raw.rstrip("\n"))))
def index(pred):
    for i, (_, text) in enumerate(lines):
        if pred(text):
            return i
    sys.exit(f"parse_log: missing line in {sys.argv[1]}")
def between(a, b):
    return (lines[index(b)][0] - lines[index(a)][0]).total_seconds()
def header(name):
    return lambda text: text.startswith(name)
python = index(lambda t: t == "## Blacklodge Python")
own = [t for _, t in lines[python:] if t.startswith("- Done (")]
def duration(text):
    m = re.search(r"\((?:(\d+)m )?([\d.]+)(ms|s)\)", text)
    if not m:
        return 0.0
    value = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
    return value + 60 * int(m.group(1) or 0)
def step(label):
    for _, text in lines[python:]:
        if label in text and " ... done (" in text:
            return duration(text.split(" ... done ", 1)[1])
        if text.startswith("- Done ("):
            break
    return 0.0
state = "reused" if any("Reusing cached Python" in t for _, t in lines[python:]) else "installed"
print(f"{between(header('===> RESTORING'), header('===> BUILDING')):.2f} "
      f"{between(header('===> EXPORTING'), header('*** Images')):.2f} "
      f"{duration(own[0]) if own else 0.0:.2f} "
      f"{step('Downloading Python'):.2f} {step('extracting'):.2f} {step('bytecode'):.2f} {state}")
PY
}

# measure SCENARIO KIND IMAGE APPDIR CACHE
measure() {
  local scenario="$1" kind="$2" image="$3" app="$4" cache="$5" log="$WORK/build.log" started ended
  started=$(date +%s.%N)
  if ! pack build "$image" --timestamps --builder "$BUILDER_IMAGE" --path "$app" \
      --network host --pull-policy if-not-present --trust-builder \
      --cache "type=build;format=volume;name=$cache-build" --cache "type=launch;format=volume;name=$cache-launch" \
      --env "BP_PYTHON_MANIFEST_URL=$MIRROR_URL/manifest.json" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "pack build failed ($scenario, $kind)" "see the log above" "run bench/setup, then re-run"
  fi
  ended=$(date +%s.%N)
  printf '%s %s %.2f %s\n' "$scenario" "$kind" "$(awk "BEGIN { print $ended - $started }")" "$(parse_log "$log")" >>"$RAW"
}

scenario() {
  local name="$1" source="$2" version="$3" i
  for i in $(seq 1 "$REPEAT"); do
    local app="$WORK/app" image="blacklodge-bench-python-$$-$i" cache="blacklodge-bench-python-$$-$i"
    rm -rf "$app" && copy_app "$source" "$app" && printf '%s\n' "$version" >"$app/.python-version"
    step "$name: run $i/$REPEAT (cold, then warm)"
    measure "$name" cold "$image" "$app" "$cache"
    measure "$name" warm "$image" "$app" "$cache"
    docker image rm -f "$image" >/dev/null 2>&1 || true
    docker volume rm -f "$cache-build" "$cache-launch" >/dev/null 2>&1 || true
  done
}

scenario "python-only, 3.11.2" tests/fixtures/python-only 3.11
scenario "python-only, 3.13.5" tests/fixtures/python-only 3.13
scenario "flask-hello (pip), 3.11.2" examples/flask-hello 3.11

PYTHONPATH="$BENCH_DIR/benchmarks" python3 - "$RAW" "$RESULTS" "$REPEAT" <<'PY'
import collections, datetime, os, pathlib, statistics, subprocess, sys
import results
raw, out, repeat = sys.argv[1], sys.argv[2], sys.argv[3]
rows = collections.defaultdict(list)
lines = open(raw).read().splitlines()
for line in lines:
    parts = line.rsplit(" ", 9)
    name, kind = parts[0], parts[1]
    rows[(name, kind)].append([float(x) for x in parts[2:9]] + [parts[9]])
def med(values):
    return statistics.median(values)
cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
with open(out, "w") as f:
    f.write("# CPython runtime layer: benchmark\n\n")
    f.write(f"Recorded {datetime.date.today().isoformat()} by `bench/benchmarks/python-runtime.sh` "
            f"({repeat} runs per scenario, median of each column; {cpu} CPUs, load average over the last 5 min "
            f"{os.getloadavg()[1]:.1f} when it finished; loopback mirror; "
            "seconds).\n\n")
    f.write("- **total**: wall time of `pack build` (detect, restore, build, export).\n")
    f.write("- **restore**: the lifecycle's restore phase (cached layers back from the cache volume; "
            "for python-only apps that is the runtime layer alone).\n")
    f.write("- **runtime buildpack**: the Python buildpack's whole build, as it reports it "
            "(select, download, verify, extract, bytecode, or reuse), with its steps:\n"
            "  **download** (with sha256), **extract**, **bytecode** (stdlib compileall).\n")
    f.write("- **export**: the lifecycle's export phase (every layer; the runtime layer is one of them).\n")
    f.write("- **runtime share**: cold, runtime buildpack / total; warm, (restore + runtime buildpack) / total "
            "for python-only apps, where the restore phase is the runtime layer's (for flask-hello the "
            "restore also carries the venv, so only the buildpack time is counted).\n\n")
    f.write("| scenario | build | total | restore | runtime buildpack | download | extract | bytecode | export | runtime share |\n")
    f.write("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    for (name, kind), values in rows.items():
        cols = list(zip(*values))
        total, restore, export, runtime, download, extract, bytecode = (med(c) for c in cols[:7])
        attributed = runtime + (restore if kind == "warm" and name.startswith("python-only") else 0)
        f.write(f"| {name} | {kind} ({'/'.join(sorted(set(cols[7])))}) | {total:.1f} | {restore:.2f} | {runtime:.2f} "
                f"| {download:.2f} | {extract:.2f} | {bytecode:.2f} | {export:.2f} | {attributed / total * 100:.0f}% |\n")
    f.write("\nEvery build (scenario, build, total, restore, export, runtime buildpack, download, extract, bytecode, layer):\n\n```\n")
    f.write("\n".join(lines) + "\n```\n")
print(f"wrote {out}", file=sys.stderr)
# The shared results file: per scenario, the warm rebuild against the same run's cold build,
# and the runtime buildpack's share of the cold build.
shared = []
for name in dict.fromkeys(name for name, _ in rows):
    cold, warm = rows[(name, "cold")], rows[(name, "warm")]
    shared.append(results.row(f"{name}: warm / cold build", "ratio", "its cold build, same run",
                              [w[0] / c[0] for c, w in zip(cold, warm)]))
    shared.append(results.row(f"{name}: cold build", "s", "–", [c[0] for c in cold]))
    shared.append(results.row(f"{name}: warm build", "s", "–", [w[0] for w in warm]))
    shared.append(results.row(f"{name}: runtime buildpack, cold / whole build", "ratio", "the whole cold build",
                              [c[3] / c[0] for c in cold]))
results.write("python-runtime", shared, pathlib.Path(out).parent)
PY
