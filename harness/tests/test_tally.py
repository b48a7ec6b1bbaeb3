"""The request tally: finished requests counted into the metrics in batches."""

from __future__ import annotations

import bisect
import random
import threading

from blacklodge_harness.metrics import DEFAULT_BUCKETS, Registry
from blacklodge_harness.tally import DRAIN_INTERVAL, RequestTally, histogram

from conftest import wait_until


def make_tally() -> tuple[Registry, RequestTally, dict[int, None]]:
    registry = Registry()
    active: dict[int, None] = {}
    tally = RequestTally(
        registry,
        registry.counter("req_total", "Requests.", ["route", "method", "status"]),
        registry.histogram("latency_seconds", "Latency.", ["route"]),
        registry.counter("calls_total", "Calls.", ["outcome"]),
        registry.histogram("call_seconds", "Calls' durations."),
        registry.gauge("in_flight", "In flight.").slots_locked(),
        active,
    )
    return registry, tally, active


def test_histogram_counts_each_value_in_the_first_bucket_at_or_above_it() -> None:
    values = [random.uniform(0, 70) for _ in range(500)] + list(DEFAULT_BUCKETS) + [0.0, 61.0]
    expected = [0.0] * (len(DEFAULT_BUCKETS) + 2)
    for value in values:  # what Histogram.observe does, one value at a time
        expected[bisect.bisect_left(DEFAULT_BUCKETS, value)] += 1
        expected[-1] += value
    counts = histogram(values, DEFAULT_BUCKETS)
    assert counts[:-1] == expected[:-1]
    assert abs(counts[-1] - expected[-1]) < 1e-6


def test_drain_counts_requests_calls_and_latencies_of_several_routes() -> None:
    registry, tally, _ = make_tally()
    predict = ("/predict", "POST", "200")
    tally.pending.extend(
        [
            (predict, ("/predict",), 0.003, (("ok",), 0.002)),
            (predict, ("/predict",), 0.2, (("ok",), 0.19)),
            (("/predict", "POST", "400"), ("/predict",), 0.001, (("bad_input",), 0.0005)),
            (("/healthz", "GET", "200"), ("/healthz",), 0.0001, None),
        ]
    )
    assert "req_total{" not in registry.render()  # not counted yet
    tally.drain()
    text = registry.render()
    assert 'req_total{route="/predict",method="POST",status="200"} 2\n' in text
    assert 'req_total{route="/predict",method="POST",status="400"} 1\n' in text
    assert 'req_total{route="/healthz",method="GET",status="200"} 1\n' in text
    assert 'latency_seconds_bucket{route="/predict",le="0.005"} 2\n' in text
    assert 'latency_seconds_bucket{route="/predict",le="0.25"} 3\n' in text
    assert 'latency_seconds_count{route="/healthz"} 1\n' in text
    assert 'calls_total{outcome="ok"} 2\n' in text and 'calls_total{outcome="bad_input"} 1\n' in text
    assert "call_seconds_count 3\n" in text
    assert 'call_seconds_bucket{le="0.005"} 2\n' in text
    assert not tally.pending
    # A second drain adds only what came since.
    tally.pending.append((predict, ("/predict",), 0.003, None))
    tally.drain()
    text = registry.render()
    assert 'req_total{route="/predict",method="POST",status="200"} 3\n' in text
    assert "call_seconds_count 3\n" in text


def test_in_flight_gauge_follows_the_active_requests() -> None:
    registry, tally, active = make_tally()
    active[1] = None
    active[2] = None
    tally.drain()
    assert "in_flight 2\n" in registry.render()
    del active[1]
    tally.drain()  # nothing pending, only the gauge changed
    assert "in_flight 1\n" in registry.render()


def test_the_ticker_drains_without_being_asked() -> None:
    registry, tally, _ = make_tally()
    tally.pending.append((("/predict", "POST", "200"), ("/predict",), 0.003, None))
    wait_until(lambda: 'req_total{route="/predict",method="POST",status="200"} 1\n' in registry.render(), timeout=20 * DRAIN_INTERVAL)


def test_requests_appended_during_drains_are_each_counted_once() -> None:
    registry, tally, _ = make_tally()
    record = (("/predict", "POST", "200"), ("/predict",), 0.003, (("ok",), 0.001))
    threads = [threading.Thread(target=lambda: [tally.pending.append(record) for _ in range(20_000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        tally.drain()
    for thread in threads:
        thread.join()
    tally.close()
    text = registry.render()
    assert 'req_total{route="/predict",method="POST",status="200"} 80000\n' in text
    assert "call_seconds_count 80000\n" in text
