"""The HTTP request metrics, counted in batches rather than on the request thread.

A finished request appends one tuple to :attr:`RequestTally.pending` (a ``list.append``: no
lock, no metric update on the request path). :meth:`RequestTally.drain` takes what is
pending and adds it to the metrics' slots at once: the request counter, the latency
histogram, the handler call counter and duration histogram, and the in-flight gauge (the
number of requests in :attr:`WebRuntime.active`). Drains happen

* every :data:`DRAIN_INTERVAL` seconds, on one thread per process for every tally in it;
* before this worker renders ``/metrics`` (its own requests are always counted in full);
* when the runtime shuts down (a recycled or stopped worker leaves nothing uncounted).

Another worker's requests reach a scrape at most :data:`DRAIN_INTERVAL` later; a worker
killed outright (``SIGKILL``) loses at most that long's requests from the counts.

Why: updating six metric slots under a lock cost about 4 µs per request inside a request
(bench/results/wrapper.md), the same work in a loop over a batch a fraction of it.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Sequence

from blacklodge_harness import metrics
from blacklodge_harness.metrics import Histogram, Registry, Slots

log = logging.getLogger("blacklodge.metrics")

#: Seconds between two drains of the pending requests (the staleness bound of another worker's counts).
DRAIN_INTERVAL = 0.05

#: A finished request: the request counter's label values (route, method, status), the latency
#: histogram's (route,), its seconds, and the handler call's (outcome label values, seconds) when
#: the request made one.
Finished = tuple[tuple[str, str, str], tuple[str], float, "tuple[tuple[str], float] | None"]


class RequestTally:
    """Counts finished requests (:attr:`pending`) into the metrics when drained."""

    def __init__(
        self,
        registry: Registry,
        requests: metrics.Counter,
        latency: Histogram,
        calls: metrics.Counter,
        durations: Histogram,
        in_flight: Slots,
        active: dict[int, None],
    ) -> None:
        if durations.buckets != latency.buckets:
            raise ValueError("the request latency and call duration histograms must have the same buckets")
        #: Finished requests not counted yet; appended by any thread, taken by :meth:`drain`.
        self.pending: list[Finished] = []
        self._registry = registry
        self._requests = requests
        self._latency = latency
        self._calls = calls
        self._durations = durations
        self._in_flight = in_flight
        self._active = active
        self._buckets = latency.buckets
        self._lock = threading.Lock()
        self._in_flight_written = -1
        _Ticker.add(self)

    def drain(self) -> None:
        """Add the pending requests to the metrics, and the in-flight count to its gauge."""
        with self._lock:
            pending = self.pending
            count = len(pending)
            in_flight = len(self._active)
            if not count and in_flight == self._in_flight_written:
                return
            # Appends only add at the end: the first ``count`` entries are this batch.
            batch = pending[:count]
            del pending[:count]
            sums = self._sum(batch) if batch else None
            with self._registry.lock:
                if sums is not None:
                    self._add_locked(*sums)
                self._in_flight[0] = in_flight
            self._in_flight_written = in_flight

    def _add_locked(
        self,
        requests: Counter[tuple[str, str, str]],
        latencies: dict[tuple[str], list[float]],
        calls: Counter[tuple[str]],
        durations: list[float] | None,
    ) -> None:
        """Adds one batch's sums (:meth:`_sum`) to the slots; the caller holds the registry's lock."""
        for key, number in requests.items():
            self._requests.slots_locked(key)[0] += number
        for route, counts in latencies.items():
            _add(self._latency.slots_locked(route), counts)
        for outcome, number in calls.items():
            self._calls.slots_locked(outcome)[0] += number
        if durations is not None:
            _add(self._durations.slots_locked(), durations)

    def _sum(
        self, batch: list[Finished]
    ) -> tuple[Counter[tuple[str, str, str]], dict[tuple[str], list[float]], Counter[tuple[str]], list[float] | None]:
        """The batch's counts per request key and call outcome, and its histogram increments
        per route and for the calls (see :func:`histogram`). Built from columns (``zip``,
        ``Counter``, ``sorted``: loops in C), not request by request."""
        buckets = self._buckets
        keys, routes, seconds, made = zip(*batch)
        distinct = set(routes)
        if len(distinct) == 1:
            latencies = {routes[0]: histogram(seconds, buckets)}
        else:
            latencies = {
                route: histogram([value for key, value in zip(routes, seconds) if key == route], buckets) for route in distinct
            }
        calls = [call for call in made if call is not None]
        if not calls:
            return Counter(keys), latencies, Counter(), None
        outcomes, durations = zip(*calls)
        return Counter(keys), latencies, Counter(outcomes), histogram(durations, buckets)

    def close(self) -> None:
        """Count what is pending and leave the regular drains."""
        self.drain()
        _Ticker.remove(self)


def histogram(values: Sequence[float], buckets: Sequence[float]) -> list[float]:
    """What ``values`` add to a histogram's slots: the count per bucket (a value belongs to the
    first bucket whose upper bound is >= it), the +Inf bucket's count, then their sum."""
    ordered = sorted(values)
    counts: list[float] = []
    below = 0
    for bound in buckets:
        upto = bisect.bisect_right(ordered, bound)
        counts.append(upto - below)
        below = upto
    counts.append(len(ordered) - below)
    counts.append(sum(ordered))
    return counts


def _add(slots: Slots, counts: list[float]) -> None:
    for index, value in enumerate(counts):
        if value:
            slots[index] += value


class _Ticker:
    """The one thread per process that drains every live tally each :data:`DRAIN_INTERVAL`."""

    _tallies: weakref.WeakSet[RequestTally] = weakref.WeakSet()
    _thread: threading.Thread | None = None
    _lock = threading.Lock()

    @classmethod
    def add(cls, tally: RequestTally) -> None:
        with cls._lock:
            cls._tallies.add(tally)
            if cls._thread is None:
                cls._thread = threading.Thread(target=cls._run, name="blacklodge-metrics", daemon=True)
                cls._thread.start()

    @classmethod
    def remove(cls, tally: RequestTally) -> None:
        with cls._lock:
            cls._tallies.discard(tally)

    @classmethod
    def _run(cls) -> None:
        while True:
            time.sleep(DRAIN_INTERVAL)
            with cls._lock:
                tallies: list[RequestTally] = list(cls._tallies)
            for tally in tallies:
                try:
                    tally.drain()
                except Exception:  # noqa: BLE001 - the thread must keep counting the others
                    log.exception("could not count the finished requests")

    @classmethod
    def _after_fork(cls) -> None:
        """In a forked child the thread is gone (and the lock may be held): start afresh."""
        cls._lock = threading.Lock()
        cls._thread = None
        cls._tallies = weakref.WeakSet()


os.register_at_fork(after_in_child=_Ticker._after_fork)

