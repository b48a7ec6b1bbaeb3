from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from blacklodge_harness import metrics
from blacklodge_harness.metrics import MultiprocessStore, Registry, render



def sample_registry(values: Optional[metrics.Values] = None) -> Registry:
    registry = Registry(values)
    requests = registry.counter("app_requests_total", "Requests.", ["status"])
    in_flight = registry.gauge("app_in_flight", "In flight.")
    latency = registry.histogram("app_latency_seconds", "Latency.", buckets=(0.1, 1.0))
    requests.inc(status="200")
    requests.inc(2, status="500")
    in_flight.inc()
    latency.observe(0.05)
    latency.observe(0.5)
    latency.observe(5)
    return registry


def test_render_text_format() -> None:
    text = sample_registry().render()
    assert "# HELP app_requests_total Requests.\n# TYPE app_requests_total counter\n" in text
    assert 'app_requests_total{status="200"} 1\n' in text
    assert 'app_requests_total{status="500"} 2\n' in text
    assert "app_in_flight 1\n" in text
    assert 'app_latency_seconds_bucket{le="0.1"} 1\n' in text
    assert 'app_latency_seconds_bucket{le="1"} 2\n' in text
    assert 'app_latency_seconds_bucket{le="+Inf"} 3\n' in text
    assert "app_latency_seconds_sum 5.55\n" in text
    assert "app_latency_seconds_count 3\n" in text


def test_label_values_are_escaped() -> None:
    registry = Registry()
    registry.counter("x_total", "X.", ["v"]).inc(v='a"b\\c\nd')
    assert 'x_total{v="a\\"b\\\\c\\nd"} 1' in registry.render()


def test_histogram_bucket_bounds_are_inclusive() -> None:
    registry = Registry()
    histogram = registry.histogram("h", "help", buckets=(0.1, 1.0))
    for value in (0.1, 0.10001, 1.0, 5.0):
        histogram.observe(value)
    text = registry.render()
    assert 'h_bucket{le="0.1"} 1' in text
    assert 'h_bucket{le="1"} 3' in text
    assert 'h_bucket{le="+Inf"} 4' in text


def test_label_keys_match_keyword_labels() -> None:
    registry = Registry()
    counter = registry.counter("c", "help", ["route", "status"])
    counter.inc(route="/predict", status="200")
    counter.inc_key(("/predict", "200"))
    assert counter.value(route="/predict", status="200") == 2


def test_locked_updates_under_the_registry_lock() -> None:
    registry = Registry()
    requests = registry.counter("app_requests_total", "Requests.", ["status"])
    latency = registry.histogram("app_latency_seconds", "Latency.", buckets=(0.1, 1.0))
    with registry.lock:
        requests.inc_locked(("200",))
        latency.observe_locked(0.5)
    text = registry.render()
    assert 'app_requests_total{status="200"} 1\n' in text
    assert 'app_latency_seconds_bucket{le="0.1"} 0\n' in text and 'app_latency_seconds_bucket{le="1"} 1\n' in text


# ------------------------------------------------------------------ values across processes

#: A process with its values in the store's directory (as a worker of blacklodge web): fills
#: the sample registry, then on each line of its stdin "inc" counts one more request; exits at EOF.
WORKER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_metrics import sample_registry
from blacklodge_harness.metrics import MultiprocessStore
registry = sample_registry(MultiprocessStore(Path(sys.argv[1])).values())
print("ready", flush=True)
for line in sys.stdin:
    registry._metrics["app_requests_total"].inc(status="200")
    print("done", flush=True)
"""


class Worker:
    def __init__(self, directory: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(directory), str(Path(__file__).parent)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline() == "ready\n"

    def inc(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("inc\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline() == "done\n"

    def exit(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=10) == 0


def scrape(store: MultiprocessStore) -> str:
    return render(store.collect(sample_registry()))


def test_values_are_summed_over_processes_at_once(tmp_path: Path) -> None:
    store = MultiprocessStore(tmp_path)
    own = sample_registry(store.values())
    other = Worker(tmp_path)
    try:
        text = render(store.collect(own))
        assert 'app_requests_total{status="200"} 2\n' in text
        assert 'app_requests_total{status="500"} 4\n' in text
        assert "app_in_flight 2\n" in text
        assert 'app_latency_seconds_bucket{le="1"} 4\n' in text and "app_latency_seconds_count 6\n" in text
        assert "app_latency_seconds_sum 11.1\n" in text
        # What the other process counts is in its file the moment it counts it: no snapshot, no wait.
        other.inc()
        assert 'app_requests_total{status="200"} 3\n' in render(store.collect(own))
    finally:
        other.exit()


def test_an_exited_process_is_counted_once_and_its_gauges_dropped(tmp_path: Path) -> None:
    store = MultiprocessStore(tmp_path)
    own = sample_registry(store.values())
    other = Worker(tmp_path)
    other.inc()
    other.exit()
    # Its counters and histograms stay (folded into the archive), its gauge is gone.
    text = render(store.collect(own))
    assert 'app_requests_total{status="200"} 3\n' in text
    assert 'app_requests_total{status="500"} 4\n' in text
    assert "app_in_flight 1\n" in text
    assert "app_latency_seconds_count 6\n" in text
    assert sorted(path.name for path in tmp_path.glob("*.values")) == [f"{own.values.group}.0.values"]
    assert render(store.collect(own)) == text  # folded once: the next scrape counts the same
    # A process replacing it (a respawned worker) adds to the totals; nothing is lost or doubled.
    replacement = Worker(tmp_path)
    try:
        text = render(store.collect(own))
        assert 'app_requests_total{status="200"} 4\n' in text and "app_in_flight 2\n" in text
        assert "app_latency_seconds_count 9\n" in text
    finally:
        replacement.exit()
    text = render(store.collect(own))
    assert 'app_requests_total{status="200"} 4\n' in text and "app_in_flight 1\n" in text


def test_files_folded_but_not_removed_are_not_counted_twice(tmp_path: Path) -> None:
    """A scrape that stopped between writing the archive and removing the folded files."""
    store = MultiprocessStore(tmp_path)
    other = Worker(tmp_path)
    files = {path.name: path.read_bytes() for path in tmp_path.glob("*.values")}
    other.exit()
    text = scrape(store)
    assert 'app_requests_total{status="500"} 2\n' in text
    assert not list(tmp_path.glob("*.values"))
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert scrape(store) == text
    assert not list(tmp_path.glob("*.values"))


def test_values_fill_new_segments(tmp_path: Path) -> None:
    store = MultiprocessStore(tmp_path)
    registry = Registry(store.values())
    counter = registry.counter("many_total", "Many label sets.", ["n"])
    for n in range(3000):  # about 170 KiB of entries: several segments
        counter.inc(n=str(n))
    assert len(list(tmp_path.glob("*.values"))) > 1
    text = render(store.collect(registry))
    assert text.count("many_total{") == 3000 and 'many_total{n="2999"} 1\n' in text


def test_label_values_longer_than_a_segment_are_refused() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="label values too long"):
        registry.counter("c_total", "C.", ["v"]).inc(v="x" * metrics.SEGMENT_SIZE)
