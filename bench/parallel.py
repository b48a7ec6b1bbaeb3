#!/usr/bin/env python3
"""Run named commands in parallel lanes, the slowest first, and report each as one block.

Used by bench/test. Reads jobs as JSON lines on stdin: {"name": ..., "argv": [...], "cwd": ...,
"env": {...}} (cwd and env optional). Each job's output (stdout and stderr together) goes to
LOG_DIR/<name>.log and is printed as one block when the job ends, so parallel jobs never
interleave. The order comes from the durations of the previous run (DURATIONS, a JSON file
updated here): jobs never seen before start first, then the longest. Exits 1 when any job
failed, naming them all.

    bench/parallel.py --jobs 3 --log-dir DIR --durations FILE < jobs.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path


def read_durations(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, required=True, help="lanes run at once")
    parser.add_argument("--log-dir", type=Path, required=True)
    parser.add_argument("--durations", type=Path, required=True)
    args = parser.parse_args()

    jobs = [json.loads(line) for line in sys.stdin if line.strip()]
    names = [job["name"] for job in jobs]
    if len(set(names)) != len(names):
        print(f"parallel.py: job names repeat: {sorted(names)}", file=sys.stderr)
        return 2
    known = read_durations(args.durations)
    # Unknown jobs first (they may be long), then the longest: the lanes end close together.
    jobs.sort(key=lambda job: -known.get(job["name"], float("inf")))
    args.log_dir.mkdir(parents=True, exist_ok=True)

    pending = list(jobs)
    lock = threading.Lock()
    durations = dict(known)
    failed: list[str] = []
    started = time.monotonic()

    def lane() -> None:
        while True:
            with lock:
                if not pending:
                    return
                job = pending.pop(0)
            log_path = args.log_dir / f"{job['name']}.log"
            begin = time.monotonic()
            with log_path.open("wb") as log:
                returncode = subprocess.call(
                    job["argv"],
                    cwd=job.get("cwd"),
                    env={**os.environ, **job.get("env", {})},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            took = time.monotonic() - begin
            with lock:
                durations[job["name"]] = round(took, 1)
                status = "ok" if returncode == 0 else f"FAILED (exit {returncode})"
                if returncode != 0:
                    failed.append(job["name"])
                sys.stdout.write(f"---- {job['name']}: {status} in {took:.0f} s "
                                 f"(at {time.monotonic() - started:.0f} s) ----\n")
                sys.stdout.write(log_path.read_text(errors="replace"))
                sys.stdout.write("\n")
                sys.stdout.flush()

    threads = [threading.Thread(target=lane) for _ in range(max(1, args.jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    args.durations.parent.mkdir(parents=True, exist_ok=True)
    args.durations.write_text(json.dumps(durations, indent=1, sort_keys=True) + "\n")
    print(f"==> {len(jobs)} jobs in {time.monotonic() - started:.0f} s, {args.jobs} at a time")
    if failed:
        print(f"FAILED jobs: {' '.join(sorted(failed))} (logs in {args.log_dir})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
