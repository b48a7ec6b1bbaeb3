from __future__ import annotations

from pathlib import Path

from blacklodge_harness.metrics import MultiprocessStore, Registry, render


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
    store.write(sample_registry().snapshot(), pid=1)
    store.write(sample_registry().snapshot(), pid=2)
    text = render(store.collect())
    assert 'app_requests_total{status="500"} 4' in text
    assert "app_in_flight 2" in text
    assert 'app_latency_seconds_bucket{le="+Inf"} 6' in text
    # Worker 1 dies: its counters stay, its gauges go.
    store.archive(1)
    text = render(store.collect())
    assert 'app_requests_total{status="500"} 4' in text
    assert "app_in_flight 1" in text
    assert 'app_latency_seconds_count 6' in text
    assert not (tmp_path / "1.json").exists()


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
