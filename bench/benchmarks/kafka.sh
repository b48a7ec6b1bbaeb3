#!/usr/bin/env bash
# Figures of the Kafka worker (`blacklodge worker`), recorded in bench/results/kafka.md:
#
# 1. Loss soak (bench/benchmarks/kafka/soak.py): RUNS runs (20) of RECORDS_SOAK (10,000)
#    records each; in every run the worker is killed with SIGKILL at KILLS (2) random points
#    and restarted, and in every third run the broker is killed (SIGKILL) and restarted while
#    the worker runs. Counts lost records (an input without an output) and duplicates.
# 2. Throughput (bench/benchmarks/kafka/throughput.py): `blacklodge worker` against a bare
#    confluent-kafka consume -> produce loop with the same guarantee (bare_loop.py: offsets
#    committed in batches, only the contiguous delivered prefix), same broker, same input
#    topic (RECORDS, 100,000 records over PARTITIONS, 3), paired runs in ROUNDS (7) rounds.
#
# Both run against a private broker (bench/kafka start --port KAFKA_BENCH_PORT, default 29392,
# fresh data), never the bench's shared one, and stop it at the end. The worker runs from a
# venv with the harness of this work tree and its locked dependencies (hash-checked), plus
# confluent-kafka from bench/kafka-client.requirements.txt. Not part of bench/test.
#
#   bench/benchmarks/kafka.sh                 # both
#   ONLY=soak bench/benchmarks/kafka.sh       # or ONLY=throughput
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

RUNS="${RUNS:-$(bench_default 20 2)}"
RECORDS_SOAK="${RECORDS_SOAK:-10000}"
KILLS="${KILLS:-2}"
RECORDS="${RECORDS:-100000}"
PARTITIONS="${PARTITIONS:-3}"
ROUNDS="${ROUNDS:-$(bench_default 7 3)}"
ONLY="${ONLY:-}"
PORT="${KAFKA_BENCH_PORT:-29392}"
HERE="$BENCH_DIR/benchmarks/kafka"
RESULTS="${RESULTS:-$BENCH_DIR/results/kafka.md}"
VENV="$BLACKLODGE_CACHE/bench-kafka-venv"
DATA="$BLACKLODGE_CACHE/kafka/bench-$PORT"
WORK="$(mktemp -d)"
PYTHON="${PYTHON:-python3}"
bench_begin RUNS RECORDS_SOAK KILLS RECORDS PARTITIONS ROUNDS ONLY

wanted="$(cat "$REPO_DIR/harness/pyproject.toml" "$REPO_DIR/harness/requirements.lock" "$BENCH_DIR/kafka-client.requirements.txt" \
  "$REPO_DIR"/harness/src/blacklodge_harness/*.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$wanted" ]; then
  step "Preparing the benchmark venv ($VENV)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  run_logged "pip install the harness's locked dependencies and the Kafka client" "$BLACKLODGE_CACHE/bench-kafka-pip.log" \
    "$VENV/bin/pip" install --disable-pip-version-check --require-hashes \
      -r "$REPO_DIR/harness/requirements.lock" -r "$BENCH_DIR/kafka-client.requirements.txt"
  run_logged "pip install harness" "$BLACKLODGE_CACHE/bench-kafka-pip-harness.log" \
    "$VENV/bin/pip" install --disable-pip-version-check --no-deps "$REPO_DIR/harness"
  echo "$wanted" > "$VENV/.stamp"
fi

cleanup() {
  "$BENCH_DIR/kafka" stop --port "$PORT" --data "$DATA" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"$BENCH_DIR/kafka" stop --port "$PORT" --data "$DATA" >/dev/null 2>&1 || true
rm -rf "$DATA"
"$BENCH_DIR/kafka" start --port "$PORT" --data "$DATA"
bootstrap="127.0.0.1:$PORT"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
revision="$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD -- harness bench 2>/dev/null || echo ' (with local changes)')"
started="$(date -u +%Y-%m-%dT%H:%MZ)"

if [ "$ONLY" != throughput ]; then
  step "Loss soak: $RUNS runs of $RECORDS_SOAK records, $KILLS worker kills each, the broker killed in every third run"
  "$VENV/bin/python" "$HERE/soak.py" --bootstrap "$bootstrap" --broker-port "$PORT" --broker-data "$DATA" \
    --bench-kafka "$BENCH_DIR/kafka" --blacklodge "$VENV/bin/blacklodge" --runs "$RUNS" --records "$RECORDS_SOAK" \
    --kills "$KILLS" --log "$WORK/soak-workers.log" | tee "$WORK/soak.jsonl" >&2
fi
load_middle="$(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$ONLY" != soak ]; then
  step "Throughput: $ROUNDS rounds, $RECORDS records over $PARTITIONS partitions"
  "$VENV/bin/python" "$HERE/throughput.py" --bootstrap "$bootstrap" --records "$RECORDS" --partitions "$PARTITIONS" \
    --rounds "$ROUNDS" --python "$VENV/bin/python" --blacklodge "$VENV/bin/blacklodge" | tee "$WORK/throughput.jsonl" >&2
fi
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

PYTHONPATH="$BENCH_DIR/benchmarks" "$VENV/bin/python" - "$WORK" "$RESULTS" <<PY
import json, platform, sys
import results as shared
from pathlib import Path
from importlib.metadata import version

work, results = Path(sys.argv[1]), Path(sys.argv[2])
def lines(name):
    path = work / name
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []
soak, throughput = lines("soak.jsonl"), lines("throughput.jsonl")
previous = results.read_text() if results.exists() else ""
def section(title):
    # Keep a section of the previous results when this run did not measure it.
    start = previous.find(title)
    if start < 0:
        return ""
    end = previous.find("\n## ", start + 1)
    return previous[start:] if end < 0 else previous[start:end + 1]

out = ["# Kafka worker figures", "",
       f"Recorded by \`bench/benchmarks/kafka.sh\` on $started ({platform.machine()}, $(nproc) cores shared with other work).",
       f"Apache Kafka $KAFKA_VERSION (KRaft, one broker on loopback, heap 512 MB), confluent-kafka {version('confluent-kafka')}, "
       f"Python {platform.python_version()}, harness {version('blacklodge-harness')} at commit $revision.",
       "Load average (1, 5, 15 min) before / between / after: $load_before / $load_middle / $load_after.", ""]
if soak:
    s = [r for r in soak if r.get("summary")][0]
    runs = [r for r in soak if not r.get("summary")]
    out += ["## Loss soak", "",
            f"{s['runs']} runs of $RECORDS_SOAK records (3 partitions, handler \`app:score\`, commits every 0.2 s). In each run a worker was killed "
            f"with SIGKILL at $KILLS random points (after 5-95 % of the remaining records had an output) and restarted; in every "
            "third run the broker was also killed with SIGKILL and restarted while the worker ran. A last worker ran until the "
            "group's committed offsets covered every record and was stopped with SIGTERM. Random seed: "
            f"{s['seed']}.", "",
            "| runs | records | worker kills | broker restarts | lost | duplicates | last worker exit ≠ 0 |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {s['runs']} | {s['records']} | {s['worker_kills']} | {s['broker_restarts']} | **{s['lost']}** | {s['duplicates']} | {s['nonzero_exits']} |", "",
            "Per run: " + ", ".join(f"{r['run']}: {r['duplicates']} dup" + (f" (broker restarted)" if r['broker_restarts'] else "") for r in runs) + ".", "",
            "Duplicates are the records processed again after a crash: everything after the last commit "
            "(\`BLACKLODGE_KAFKA_COMMIT_INTERVAL\`, 0.2 s here) plus what was in flight and, after a kill, what the dead "
            "member had fetched. At this handler's speed a worker processes thousands of records per second, so each kill "
            "repeats hundreds to thousands. Goal: 0 lost.", ""]
else:
    out.append(section("## Loss soak"))
if throughput:
    s = [r for r in throughput if r.get("summary")][0]
    runs = [r for r in throughput if not r.get("summary")]
    by = lambda kind: [r for r in runs if r["kind"] == kind]
    rng = lambda kind: f"{min(r['rate'] for r in by(kind)):.0f}–{max(r['rate'] for r in by(kind)):.0f}"
    verdict = "met" if s["median_ratio"] >= 0.8 else "NOT met"
    out += ["## Throughput", "",
            f"$RECORDS records over $PARTITIONS partitions, read by both sides from the same input topic, a new group and output "
            f"topic per run, {len(by('harness'))} rounds of one run each, back to back, which one first alternating. Rate: "
            "records over the time between the first and the last output record (producer timestamps), so start-up and "
            "joining the group are not counted. CPU: the process's user + system time per record over the whole run (librdkafka's "
            "threads included).", "",
            "| side | median records/s | slowest–fastest run | median CPU µs/record |",
            "| --- | ---: | --- | ---: |",
            f"| **\`blacklodge worker\`** (defaults: concurrency 4, 60 s deadline, provenance headers, request ids, metrics) | {s['harness_median_rate']:.0f} | {rng('harness')} | {s['harness_median_cpu']:.1f} |",
            f"| bare confluent-kafka loop (bare_loop.py, one thread) | {s['bare_median_rate']:.0f} | {rng('bare')} | {s['bare_median_cpu']:.1f} |", "",
            f"Median of the per-round ratios (worker / bare): **{s['median_ratio']:.2f}** (rounds: {', '.join(f'{r:.2f}' for r in s['ratios'])}). "
            f"Goal ≥ 0.80: {verdict}. CPU per record, bare / worker: {s['bare_median_cpu'] / s['harness_median_cpu']:.2f}.", ""]
else:
    out.append(section("## Throughput"))
out.append(section("## Reading the figures").rstrip("\n") or "## Reading the figures\n\n(see the previous recording)")
results.write_text("\n".join(out).rstrip("\n") + "\n")
print(f"wrote {results}", file=sys.stderr)
# The shared results file (bench/benchmarks/results.py): what this run measured.
rows = []
if soak:
    totals = [r for r in soak if r.get("summary")][0]
    rows.append(shared.row("records lost / records produced (loss soak, worker and broker killed)", "ratio",
                           "the records produced, same run", [totals["lost"] / totals["records"]], "<= 0"))
if throughput:
    totals = [r for r in throughput if r.get("summary")][0]
    rows.append(shared.row("throughput, blacklodge worker / bare confluent-kafka loop", "ratio",
                           "the bare loop, same round", totals["ratios"], ">= 0.8"))
    rows.append(shared.row("throughput, blacklodge worker (records/s)", "req/s", "–",
                           [r["rate"] for r in throughput if not r.get("summary") and r["kind"] == "harness"]))
shared.write("kafka", rows, results.parent)
PY
