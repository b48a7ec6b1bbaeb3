"""The benchmarks' results files: one shape for every benchmark, read by bench/bench.

bench/results/<name>.json, next to the human page bench/results/<name>.md:

    {"benchmark": name, "command": the exact command, "date": UTC ISO time,
     "load_before": 1-min load average when the benchmark started, "versions": {...},
     "rows": [{"figure", "unit" (ratio | s | MB | req/s), "baseline" (what the figure is
               compared with, measured in the same run), "median", "min", "max", "n",
               "goal" (e.g. "<= 1.1", or null), "met" (true | false | null)}]}

Used by every benchmark, from Python (``import results``) or from bash:

    python3 bench/benchmarks/results.py write NAME <<'ROWS'
    figure<TAB>unit<TAB>baseline<TAB>goal<TAB>sample sample ...
    ROWS

A row's samples are its values in each round (for a ratio: each round's figure over the
same round's baseline, which a sample may give as ``figure/baseline``); the file holds their
median, min, max and count. ``bench_begin``
(bench/lib.sh) exports BENCH_COMMAND and BENCH_LOAD_BEFORE when a benchmark starts.
"""

from __future__ import annotations

import datetime
import json
import operator
import os
import pathlib
import re
import statistics
import subprocess
import sys

BENCH_DIR = pathlib.Path(__file__).resolve().parent.parent
RESULTS_DIR = BENCH_DIR / "results"
UNITS = ("ratio", "s", "MB", "req/s")
_GOAL = re.compile(r"^\s*(<=|>=|<|>)\s*([0-9.]+)\s*$")
_COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def goal_met(goal: str | None, value: float) -> bool | None:
    """Whether VALUE meets GOAL ("<= 1.1"); None without a goal."""
    if not goal:
        return None
    match = _GOAL.match(goal)
    if not match:
        raise ValueError(f"goal {goal!r}: write it as an operator and a number, e.g. '<= 1.1'")
    return _COMPARE[match.group(1)](round(value, 6), float(match.group(2)))


def row(figure: str, unit: str, baseline: str, samples: list[float], goal: str | None = None) -> dict:
    """One row of the shape above from the samples of each round."""
    if unit not in UNITS:
        raise ValueError(f"row {figure!r}: unit {unit!r} is none of {', '.join(UNITS)}")
    if not samples:
        raise ValueError(f"row {figure!r}: no samples")
    values = [float(value) for value in samples]
    median = statistics.median(values)
    return {
        "figure": figure,
        "unit": unit,
        "baseline": baseline,
        "median": round(median, 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "n": len(values),
        "goal": goal or None,
        "met": goal_met(goal, median),
    }


def versions() -> dict:
    """The pinned versions (bench/versions.env), the builder and the commit measured."""
    found = {}
    for line in (BENCH_DIR / "versions.env").read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=\"?([^\"]*)\"?$", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    found["BLACKLODGE_BUILDER"] = os.environ.get("BLACKLODGE_BUILDER", "")
    commit = subprocess.run(
        ["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()
    found["commit"] = commit
    return found


def loadavg() -> float:
    return os.getloadavg()[0]


def document(name: str, rows: list[dict]) -> dict:
    load = os.environ.get("BENCH_LOAD_BEFORE")
    return {
        "benchmark": name,
        "command": os.environ.get("BENCH_COMMAND") or " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "load_before": float(load) if load else None,
        "versions": versions(),
        "rows": rows,
    }


def write(name: str, rows: list[dict], directory: pathlib.Path | None = None) -> pathlib.Path:
    """Writes <directory>/<name>.json (default bench/results); returns its path."""
    path = (directory or RESULTS_DIR) / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document(name, rows), indent=2) + "\n")
    tmp.replace(path)
    print(f"wrote {path}", file=sys.stderr)
    return path


def sample(text: str) -> float:
    """A number, or a ratio written ``figure/baseline``."""
    if "/" in text:
        figure, baseline = text.split("/", 1)
        return float(figure) / float(baseline)
    return float(text)


def parse_rows(text: str) -> list[dict]:
    """Rows written one a line: figure, unit, baseline, goal, samples (tab-separated)."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 5:
            raise ValueError(
                f"line {number}: {len(fields)} tab-separated fields, expected 5 "
                f"(figure, unit, baseline, goal, samples): {line!r}"
            )
        figure, unit, baseline, goal, samples = fields
        rows.append(row(figure, unit, baseline, [sample(x) for x in samples.split()], goal.strip() or None))
    return rows


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (the results pages and the summary)."""
    lines = [
        "| figure | unit | baseline (same run) | median | min–max | n | goal | met |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for item in rows:
        unit = item["unit"]
        met = {True: "met", False: "**not met**", None: "–"}[item["met"]]
        lines.append(
            f"| {item['figure']} | {unit} | {item['baseline']} | {fmt(item['median'], unit)} "
            f"| {fmt(item['min'], unit)}–{fmt(item['max'], unit)} | {item['n']} "
            f"| {item['goal'] or '–'} | {met} |"
        )
    return "\n".join(lines) + "\n"


READING = "## Reading the numbers"


def kept_reading(page: str | pathlib.Path) -> str:
    """The hand-written part of a results page (from its "## Reading the numbers" heading on),
    which a benchmark keeps when it writes the page again; empty when there is none."""
    path = pathlib.Path(page)
    text = path.read_text() if path.exists() else ""
    start = text.find(READING)
    return "\n" + text[start:] if start >= 0 else ""


def machine() -> dict:
    meminfo = pathlib.Path("/proc/meminfo").read_text()
    memory_kb = int(re.search(r"^MemTotal:\s+(\d+)", meminfo, re.M).group(1))
    cpuinfo = pathlib.Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return {
        "cores": os.cpu_count(),
        "cpu": model.group(1).strip() if model else "",
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": os.uname().release,
    }


def summary(runs_file: str, names: list[str], out: pathlib.Path = RESULTS_DIR) -> None:
    """OUT/summary.{json,md}: every benchmark's results file (NAMES, in order), with the load
    before and after each benchmark bench/bench ran now (RUNS_FILE: name, load before, load
    after, seconds, exit status; tab-separated, one a line). A results file is read from OUT
    when it is there (quick runs write to bench/results/quick), else from bench/results."""
    runs = {}
    for line in pathlib.Path(runs_file).read_text().splitlines():
        name, before, after, seconds, status = line.split("\t")
        runs[name] = {"load_before": float(before), "load_after": float(after),
                      "seconds": float(seconds), "status": int(status)}
    benchmarks = []
    for name in names:
        path = out / f"{name}.json"
        if not path.exists():
            path = RESULTS_DIR / f"{name}.json"
        page = os.path.relpath(path.with_suffix(".md"), out)
        entry = {"benchmark": name, "page": page, "run_now": name in runs, **runs.get(name, {})}
        if path.exists():
            data = json.loads(path.read_text())
            entry.update(command=data["command"], date=data["date"], rows=data["rows"])
            entry.setdefault("load_before", data["load_before"])
        benchmarks.append(entry)
    document = {
        "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": machine(),
        "versions": versions(),
        "quick": os.environ.get("BENCH_QUICK") == "1",
        "benchmarks": benchmarks,
    }
    (out / "summary.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / "summary.md").write_text(summary_markdown(document))
    print(f"wrote {out / 'summary.md'} and summary.json", file=sys.stderr)


def summary_markdown(document: dict) -> str:
    box = document["machine"]
    out = [
        "# Benchmarks: summary\n",
        f"Written by `bench/bench` on {document['date']}"
        + (" in quick mode (fewer rounds; the benchmarks run now wrote their pages and results files "
           "here, in bench/results/quick/, and the others are read from bench/results/)" if document["quick"] else "") + ". "
        f"Machine: {box['cores']} cores ({box['cpu']}), {box['memory_gb']} GB, Linux {box['kernel']}; "
        "shared with other work, so every benchmark states the load average (1 min) around it.\n",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in document["versions"].items() if v) + ".\n",
        "Each figure is a ratio to a baseline measured in the same run (or an absolute figure with "
        "its baseline named), the median of its rounds with the min–max spread; the goals are "
        "those of the benchmark's page. A benchmark not run now shows its results file as recorded.\n",
        "## Goals\n",
        "| benchmark | figure | median | min–max | n | goal | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for entry in document["benchmarks"]:
        for item in entry.get("rows", []):
            if item["goal"]:
                met = "met" if item["met"] else "**not met**"
                unit = item["unit"]
                out.append(
                    f"| {entry['benchmark']} | {item['figure']} | {fmt(item['median'], unit)} "
                    f"| {fmt(item['min'], unit)}–{fmt(item['max'], unit)} | {item['n']} | {item['goal']} | {met} |"
                )
    out.append("")
    for entry in document["benchmarks"]:
        out.append(f"## {entry['benchmark']}\n")
        when = "run now" if entry["run_now"] else "not run now"
        facts = [when]
        if "status" in entry and entry["status"] != 0:
            facts.append(f"**failed** (exit status {entry['status']}; its results file, if any, is an older run)")
        if "seconds" in entry:
            facts.append(f"took {entry['seconds']:.0f} s")
        if entry.get("load_before") is not None:
            facts.append(f"load before {entry['load_before']:.2f}")
        if entry.get("load_after") is not None:
            facts.append(f"after {entry['load_after']:.2f}")
        out.append("; ".join(facts) + f". Page: [{entry['page']}]({entry['page']}).\n")
        if "rows" not in entry:
            out.append("No results file in the shared shape yet (`bench/results/"
                       f"{entry['benchmark']}.json`): its page has the numbers.\n")
            continue
        out.append(f"Recorded {entry['date']} by `{entry['command']}`.\n")
        out.append(markdown_table(entry["rows"]))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if len(argv) >= 5 and argv[1] == "summary" and argv[2] == "--out":
        summary(argv[4], argv[5:], pathlib.Path(argv[3]))
        return 0
    if len(argv) >= 3 and argv[1] == "summary":
        summary(argv[2], argv[3:])
        return 0
    if len(argv) in (3, 4) and argv[1] == "write":
        write(argv[2], parse_rows(sys.stdin.read()), pathlib.Path(argv[3]) if len(argv) == 4 else None)
        return 0
    if len(argv) == 3 and argv[1] == "table":
        print(markdown_table(json.loads(pathlib.Path(argv[2]).read_text())["rows"]), end="")
        return 0
    print("usage: results.py write NAME [DIRECTORY] < rows  |  results.py table FILE.json  |  "
          "results.py summary [--out DIR] RUNS_FILE NAME...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
