"""Writes bench/results/rebuild.{json,md} from the raw timings of bench/benchmarks/rebuild.sh.

Usage: rebuild_report.py RAW RESULTS_DIR NAME COMMAND LOAD_BEFORE FLOOR_MB ROUNDS VERSION...

RAW: one line per build, tab-separated: round, target, subject, kind (cold|warm), seconds,
then the lifecycle timers analyze, detect, restore, build, export, cache ("-" for Docker).
The page's hand-written reading (from "## Reading the numbers" on) is kept.
"""

import datetime
import json
import statistics
import sys
from pathlib import Path

SUBJECTS = ("floor", "before", "ours", "dockerfile")
PHASES = ["analyze", "detect", "restore", "build", "export", "cache"]
GOALS = {  # (target, kind): (baseline subject, goal text, limit)
    ("daemon", "warm"): ("floor", "<= 1.1", 1.1),
    ("registry", "warm"): ("floor", "<= 1.1", 1.1),
    ("daemon", "cold"): ("dockerfile", "<= 1.5", 1.5),
    ("registry", "cold"): ("dockerfile", "<= 1.0", 1.0),
}
BASELINE_TEXT = {
    ("floor", "daemon"): "floor (no-op buildpack, {mb} MB launch layer kept by metadata), daemon",
    ("floor", "registry"): "floor (no-op buildpack, {mb} MB launch layer kept by metadata), --publish",
    ("dockerfile", "daemon"): "best-practice Dockerfile, docker build",
    ("dockerfile", "registry"): "best-practice Dockerfile, docker build + docker push",
}


def spread(values):
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "n": len(values),
    }


def main():
    raw, results_dir, name, command, load_before, floor_mb, rounds = sys.argv[1:8]
    versions = sys.argv[8:]
    builds = {}  # (round, target, subject, kind) -> (seconds, {phase: seconds})
    for line in Path(raw).read_text().splitlines():
        fields = line.split("\t")
        rnd, target, subject, kind, seconds = fields[:5]
        timers = {}
        if fields[5] != "-":
            timers = dict(zip(PHASES, map(float, fields[5:11])))
        builds[(rnd, target, subject, kind)] = (float(seconds), timers)
    rnds = sorted({key[0] for key in builds}, key=int)
    targets = [t for t in ("daemon", "registry") if any(k[1] == t for k in builds)]

    rows = []
    for target in targets:
        for subject in ("ours", "before"):
            for kind in ("warm", "cold"):
                base, goal, limit = GOALS[(target, kind)]
                ratios = [
                    builds[(r, target, subject, kind)][0] / builds[(r, target, base, kind)][0]
                    for r in rnds
                    if (r, target, subject, kind) in builds and (r, target, base, kind) in builds
                ]
                if not ratios:
                    continue
                row = {
                    "figure": f"{kind} build ({'code-only change' if kind == 'warm' else 'empty cache, no previous image'}), {target} path: {subject} / {base}",
                    "unit": "ratio",
                    "baseline": BASELINE_TEXT[(base, target)].format(mb=floor_mb),
                    **spread(ratios),
                    "goal": goal if subject == "ours" else None,
                }
                row["met"] = row["median"] <= limit if subject == "ours" else None
                rows.append(row)
        for subject in SUBJECTS:
            for kind in ("cold", "warm"):
                values = [builds[k][0] for k in builds if k[1:] == (target, subject, kind)]
                if values:
                    rows.append({
                        "figure": f"{kind} build, {target} path: {subject}",
                        "unit": "s",
                        "baseline": "none (absolute, same run as the ratios)",
                        **spread(values),
                        "goal": None,
                        "met": None,
                    })

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    document = {
        "benchmark": name,
        "command": command,
        "date": now.isoformat().replace("+00:00", "Z"),
        "load_before": float(load_before),
        "versions": dict(v.split(" ", 1) for v in versions),
        "rows": rows,
    }
    results = Path(results_dir)
    (results / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")

    out = [
        "# Rebuilds against the lifecycle floor, cold builds against a best-practice Dockerfile",
        "",
        f"Recorded by `{command}` on {document['date']} (load average before the run: {load_before}; "
        f"{rounds} rounds; {', '.join(versions)}). App: `bench/apps/flask-numpy-pandas`, pip flavour, CPython 3.11.",
        "",
        f"- **floor**: `bench/floor`, a no-op buildpack keeping one {floor_mb} MB launch layer by metadata and declaring a process, "
        "on the same pack, lifecycle and stack.",
        "- **ours**: the builder under test (**before**, when measured: the same buildpacks before this change, same rounds). **dockerfile**: `bench/baseline/Dockerfile` (`COPY requirements.txt` → "
        "`uv pip install` → `COPY . .`) on a base with our CPython and uv; `docker push` added on the registry path.",
        "- **cold**: new cache volumes, new repository, no previous image (`--no-cache` for Docker). "
        "**warm**: the same again after a code-only change to app.py.",
        "- Ratios are per round (the subjects of a round run back to back), then the median; min–max is their spread.",
        "",
        "| figure | median | min–max | n | goal | met |",
        "| --- | ---: | --- | ---: | --- | --- |",
    ]
    for row in rows:
        met = {True: "met", False: "**not met**", None: ""}[row["met"]]
        unit = "" if row["unit"] == "ratio" else f" {row['unit']}"
        out.append(
            f"| {row['figure']} | {row['median']:.2f}{unit} | {row['min']:.2f}–{row['max']:.2f} | {row['n']} | {row['goal'] or ''} | {met} |"
        )
    out += [
        "",
        "## Lifecycle phases (medians, seconds)",
        "",
        "The lifecycle's own timers (`Timer: … ran for`); `build` is the buildpacks' own time; the rest of "
        "the wall time is pack (ephemeral builder, container and volume set-up).",
        "",
        "| path | subject | kind | total | " + " | ".join(PHASES) + " | outside |",
        "| --- | --- | --- | ---: | " + " | ".join("---:" for _ in PHASES) + " | ---: |",
    ]
    for target in targets:
        for subject in ("floor", "before", "ours"):
            for kind in ("cold", "warm"):
                keys = [k for k in builds if k[1:] == (target, subject, kind)]
                if not keys:
                    continue
                total = statistics.median(builds[k][0] for k in keys)
                medians = [statistics.median(builds[k][1][p] for k in keys) for p in PHASES]
                outside = statistics.median(builds[k][0] - sum(builds[k][1].values()) for k in keys)
                out.append(
                    f"| {target} | {subject} | {kind} | {total:.2f} | "
                    + " | ".join(f"{m:.2f}" for m in medians)
                    + f" | {outside:.2f} |"
                )
    page = results / f"{name}.md"
    if page.exists() and "## Reading the numbers" in page.read_text():
        kept = page.read_text().split("## Reading the numbers", 1)[1]
        out += ["", "## Reading the numbers" + kept.rstrip("\n")]
    page.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
