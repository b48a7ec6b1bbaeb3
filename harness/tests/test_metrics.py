from __future__ import annotations

import os
import subprocess

import socket
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from blacklodge_harness import metrics
from blacklodge_harness.metrics import MultiprocessStore, Registry, SnapshotAgent, render

from conftest import wait_until


def sample_registry() -> Registry:
    registry = Registry()
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


def test_multiprocess_sum_and_archive(tmp_path: Path) -> None:
    store = MultiprocessStore(tmp_path)
    # Two live processes (this one and its parent), and one that has exited.
    exited = subprocess.Popen(["true"])
    exited.wait()
    store.write(sample_registry().snapshot(), pid=os.getpid())
    store.write(sample_registry().snapshot(), pid=os.getppid())
    text = render(store.collect(pid=0))
    assert 'app_requests_total{status="500"} 4' in text
    assert "app_in_flight 2" in text
    assert 'app_latency_seconds_bucket{le="+Inf"} 6' in text
    # A process that died: a scrape folds its counters into the archive and drops its gauges.
    store.write(sample_registry().snapshot(), pid=exited.pid)
    text = render(store.collect(pid=0))
    assert 'app_requests_total{status="500"} 6' in text
    assert "app_in_flight 2" in text
    assert 'app_latency_seconds_count 9' in text
    assert not (tmp_path / f"{exited.pid}.json").exists()
    # Archived once: the next scrape counts it the same.
    assert render(store.collect(pid=0)) == text


def test_collect_prefers_fresh_own_snapshot(tmp_path: Path) -> None:
    store = MultiprocessStore(tmp_path)
    store.write(Registry().snapshot(), pid=7)
    text = render(store.collect(sample_registry().snapshot(), pid=7))
    assert 'app_requests_total{status="200"} 1' in text


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


def test_function_gauge_reads_its_value_at_snapshot_time() -> None:
    registry = Registry()
    active = {1: None, 2: None}
    registry.function_gauge("app_active", "Active.", lambda: len(active))
    assert "app_active 2\n" in registry.render()
    del active[1]
    assert "app_active 1\n" in registry.render()
    assert registry.snapshot()["app_active"]["aggregate"] == "sum"


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


# ------------------------------------------------------------------ snapshots across processes


@pytest.fixture
def agents() -> Iterator[List[SnapshotAgent]]:
    made: List[SnapshotAgent] = []
    yield made
    for agent in made:
        agent.close()


#: The process the snapshot agents of these tests stand in for: one that exists (a scrape folds
#: the snapshots of processes that do not into the archive).
OTHER = os.getppid()


def requests_total(text: str) -> str:
    return [line for line in text.splitlines() if line.startswith("app_requests_total{")][0]


def test_a_scrape_gets_fresh_snapshots_from_the_other_processes(tmp_path: Path, agents: List[SnapshotAgent]) -> None:
    """No timer involved (an hour between timed writes): the scrape asks and the other process writes."""
    store = MultiprocessStore(tmp_path)
    other = Registry()
    counter = other.counter("app_requests_total", "Requests.", ["status"])
    agents.append(SnapshotAgent(store, other.snapshot, interval=3600, pid=OTHER))
    assert agents[0].listening and (tmp_path / f"{OTHER}.sock").exists() and (tmp_path / f"{OTHER}.json").exists()
    for expected in (1, 2, 5):
        counter.inc(expected - counter.value(status="200"), status="200")
        assert store.refresh(pid=4002) == 1
        assert requests_total(render(store.collect(pid=4002))) == f'app_requests_total{{status="200"}} {expected}'


def test_the_timer_writes_changed_counts(tmp_path: Path, agents: List[SnapshotAgent]) -> None:
    store = MultiprocessStore(tmp_path)
    other = Registry()
    counter = other.counter("app_requests_total", "Requests.", ["status"])
    agent = SnapshotAgent(store, other.snapshot, interval=0.05, pid=OTHER)
    agents.append(agent)
    counter.inc(status="200")
    time.sleep(0.2)  # not marked as changed: not written
    assert "app_requests_total{" not in render(store.collect(pid=4002))
    agent.dirty = True
    wait_until(lambda: "app_requests_total{" in render(store.collect(pid=4002)), timeout=2)
    assert not agent.dirty


def test_close_writes_the_last_snapshot_and_stops_answering(tmp_path: Path) -> None:
    store = MultiprocessStore(tmp_path)
    other = Registry()
    counter = other.counter("app_requests_total", "Requests.", ["status"])
    agent = SnapshotAgent(store, other.snapshot, interval=3600, pid=OTHER)
    counter.inc(3, status="200")
    agent.close()
    assert not (tmp_path / f"{OTHER}.sock").exists()
    assert store.refresh(pid=4002) == 0
    assert requests_total(render(store.collect(pid=4002))) == 'app_requests_total{status="200"} 3'
    # The master folds the dead process into the archive.
    store.archive(OTHER)
    assert requests_total(render(store.collect(pid=4002))) == 'app_requests_total{status="200"} 3'


def test_a_process_that_does_not_answer_counts_with_its_last_snapshot(tmp_path: Path) -> None:
    store = MultiprocessStore(tmp_path)
    store.write(sample_registry().snapshot(), pid=OTHER)
    # A process whose threads are all busy: its socket takes the connection but nobody answers.
    busy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    busy.bind(str(tmp_path / f"{OTHER}.sock"))
    busy.listen(1)
    # A process that died without the master's clean-up: nobody listens.
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(tmp_path / "4003.sock"))
    dead.close()
    try:
        began = time.monotonic()
        assert store.refresh(timeout=0.3, pid=4002) == 0
        assert 0.3 <= time.monotonic() - began < 2
        assert requests_total(render(store.collect(pid=4002))) == 'app_requests_total{status="200"} 1'
    finally:
        busy.close()
    store.archive(OTHER)
    assert not (tmp_path / f"{OTHER}.sock").exists() and not (tmp_path / f"{OTHER}.json").exists()


def test_without_a_socket_the_timer_keeps_the_old_interval(tmp_path: Path, agents: List[SnapshotAgent]) -> None:
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    store = MultiprocessStore(deep)
    assert store.socket_path(4001) is None  # too long for sockaddr_un
    other = Registry()
    counter = other.counter("app_requests_total", "Requests.", ["status"])
    agent = SnapshotAgent(store, other.snapshot, pid=OTHER)
    agents.append(agent)
    assert not agent.listening and agent.interval == metrics.FLUSH_INTERVAL_WITHOUT_AGENT
    assert store.refresh(pid=4002) == 0
    counter.inc(status="200")
    agent.dirty = True
    wait_until(lambda: "app_requests_total{" in render(store.collect(pid=4002)), timeout=2)
