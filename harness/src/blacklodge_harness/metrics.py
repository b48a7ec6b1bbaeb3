"""Prometheus metrics without a client library: counters, gauges, histograms.

A :class:`Registry` holds the metrics of one process and renders the text
exposition format (version 0.0.4).

Gunicorn runs several worker processes, and a scrape reaches only one of them.
:class:`MultiprocessStore` makes ``/metrics`` describe the whole server: every
worker writes a snapshot of its registry to ``<dir>/<pid>.json`` (tmpfs when
available), and the worker that serves ``/metrics`` sums the snapshots of all
workers. When a worker dies the master folds its counters and histograms into
``archive.json`` so totals never go backwards; its gauges (in-flight requests)
are dropped, as they describe a process that is gone.

When a snapshot is written: each worker listens on ``<dir>/<pid>.sock``
(:class:`SnapshotAgent`), and the worker serving a scrape first asks every other
worker for a fresh snapshot there (:meth:`MultiprocessStore.refresh`), so a
scrape counts every request that finished before it. Besides, a worker writes
its snapshot every :data:`FLUSH_INTERVAL` seconds while its counts change (for a
worker that cannot answer in time, and for the archive when a worker dies), and
when it stops. Writing on a timer alone, often enough for scrapes to be current,
cost the request threads CPU time under load (bench/results/wrapper.md).
"""

from __future__ import annotations

import bisect
import fcntl
import json
import logging
import math
import os
import platform
import selectors
import socket
import threading
import time
from pathlib import Path
from typing import Any, TypeVar, cast
from collections.abc import Callable, Iterable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = logging.getLogger("blacklodge.metrics")

#: Seconds between the snapshots a worker writes on its own while its counts change.
FLUSH_INTERVAL = 1.0
#: The same without a snapshot agent (no socket), when only these snapshots keep scrapes current.
FLUSH_INTERVAL_WITHOUT_AGENT = 0.1
#: How long a scrape waits for the other workers' fresh snapshots.
REFRESH_TIMEOUT = 0.5
#: Longest socket path that fits ``sockaddr_un`` everywhere (104 bytes on macOS, 108 on Linux).
_MAX_SOCKET_PATH = 100

#: Latency buckets in seconds: from fast JSON handlers to slow model calls.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

LabelValues = tuple[str, ...]
Snapshot = dict[str, dict[str, Any]]


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str], lock: threading.Lock) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = lock

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {sorted(labels)}")
        return tuple(str(labels[name]) for name in self.labelnames)

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.inc_key(self._key(labels), amount)

    def inc_key(self, key: LabelValues, amount: float = 1.0) -> None:
        """``inc`` with the label values already in label-name order (the request hot path)."""
        with self._lock:
            self.inc_locked(key, amount)

    def inc_locked(self, key: LabelValues, amount: float = 1.0) -> None:
        """``inc_key`` for a caller holding the registry's :attr:`Registry.lock` (several updates, one lock)."""
        values = self._values
        values[key] = values.get(key, 0.0) + amount

    def values_locked(self) -> dict[LabelValues, float]:
        """The values by label values, for a hot path updating them itself under :attr:`Registry.lock`
        (``values[key] = values.get(key, 0.0) + amount``, as :meth:`inc_locked` does)."""
        return self._values

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def snapshot(self) -> dict[str, Any]:
        return {"samples": [[list(k), v] for k, v in self._values.items()]}


class Gauge(_Metric):
    """A value that goes up and down. ``aggregate`` is how workers combine: sum or max."""

    kind = "gauge"

    def __init__(self, *args: Any, aggregate: str = "sum") -> None:
        super().__init__(*args)
        self.aggregate = aggregate
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.inc_key(self._key(labels), amount)

    def inc_key(self, key: LabelValues, amount: float = 1.0) -> None:
        """``inc`` with the label values already in label-name order (the request hot path)."""
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = value

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def snapshot(self) -> dict[str, Any]:
        return {"aggregate": self.aggregate, "samples": [[list(k), v] for k, v in self._values.items()]}


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, *args: Any, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        super().__init__(*args)
        self.buckets = tuple(sorted(buckets))
        # Per label set, one flat list: the count per bucket (not cumulative), the +Inf
        # bucket's count, then the sum (one list: an observation updates two of its items).
        self._values: dict[LabelValues, list[float]] = {}

    def observe(self, value: float, **labels: str) -> None:
        self.observe_key(value, self._key(labels))

    def observe_key(self, value: float, key: LabelValues = ()) -> None:
        """``observe`` with the label values already in label-name order (the request hot path)."""
        with self._lock:
            self.observe_locked(value, key)

    def observe_locked(self, value: float, key: LabelValues = ()) -> None:
        """``observe_key`` for a caller holding the registry's :attr:`Registry.lock`."""
        entry = self._values.get(key)
        if entry is None:
            entry = self._values[key] = [0] * (len(self.buckets) + 1) + [0.0]
        # The first bucket whose upper bound is >= value; len(buckets) is the +Inf bucket.
        entry[bisect.bisect_left(self.buckets, value)] += 1
        entry[-1] += value

    def entry_locked(self, key: LabelValues = ()) -> list[float]:
        """The counts of one label set, for a hot path observing itself under :attr:`Registry.lock`:
        ``entry[bisect.bisect_left(buckets, value)] += 1; entry[-1] += value``, as
        :meth:`observe_locked` does. The list stays the label set's for good."""
        entry = self._values.get(key)
        if entry is None:
            entry = self._values[key] = [0] * (len(self.buckets) + 1) + [0.0]
        return entry

    def count(self, **labels: str) -> int:
        entry = self._values.get(self._key(labels))
        return int(sum(entry[:-1])) if entry else 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "buckets": list(self.buckets),
            "samples": [[list(k), [int(c) for c in entry[:-1]], entry[-1]] for k, entry in list(self._values.items())],
        }


class FunctionGauge(_Metric):
    """A gauge without labels whose value is read from a function when a snapshot is taken.

    Used for in-flight requests: the request path adds and removes an entry of a
    dictionary (atomic operations, no lock) and the gauge reports its length.
    """

    kind = "gauge"
    aggregate = "sum"

    def __init__(self, *args: Any, function: Callable[[], float]) -> None:
        super().__init__(*args)
        self._function = function

    def value(self) -> float:
        return float(self._function())

    def snapshot(self) -> dict[str, Any]:
        return {"aggregate": self.aggregate, "samples": [[[], self.value()]]}


_M = TypeVar("_M", bound=_Metric)


class Registry:
    """The metrics of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}

    def _add(self, metric: _M) -> _M:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} registered twice")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help_text, labelnames, self._lock))

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = (), *, aggregate: str = "sum") -> Gauge:
        return self._add(Gauge(name, help_text, labelnames, self._lock, aggregate=aggregate))

    def histogram(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), *, buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        return self._add(Histogram(name, help_text, labelnames, self._lock, buckets=buckets))

    def function_gauge(self, name: str, help_text: str, function: Callable[[], float]) -> FunctionGauge:
        return self._add(FunctionGauge(name, help_text, (), self._lock, function=function))

    @property
    def lock(self) -> threading.Lock:
        """The one lock of every metric here: hold it around several ``*_locked`` updates."""
        return self._lock

    def snapshot(self) -> Snapshot:
        with self._lock:
            return {
                name: {"type": m.kind, "help": m.help, "labelnames": list(m.labelnames), **m.snapshot()}
                for name, m in self._metrics.items()
            }

    def render(self) -> str:
        return render(self.snapshot())


# --------------------------------------------------------------------------- merging


def register_app_info(registry: Registry, app_name: str, app_version: str | None, revision: str | None) -> None:
    """The ``blacklodge_app_info`` gauge every mode exports (value 1, the versions as labels)."""
    from blacklodge_harness import __version__

    registry.gauge(
        "blacklodge_app_info",
        "Application and harness versions (value is always 1).",
        ["app", "version", "revision", "harness_version", "python_version"],
        aggregate="max",
    ).set(
        1,
        app=app_name,
        version=app_version or "",
        revision=revision or "",
        harness_version=__version__,
        python_version=platform.python_version(),
    )


def merge(snapshots: Iterable[Snapshot], *, include_gauges: bool = True) -> Snapshot:
    """Combine snapshots of several processes: counters and histograms add up,
    gauges add up or take the maximum (per the gauge's ``aggregate``)."""
    merged: Snapshot = {}
    for snapshot in snapshots:
        for name, metric in snapshot.items():
            if metric["type"] == "gauge" and not include_gauges:
                continue
            target = merged.setdefault(name, {**metric, "samples": []})
            index = {tuple(sample[0]): sample for sample in target["samples"]}
            for sample in metric["samples"]:
                key = tuple(sample[0])
                existing = index.get(key)
                if existing is None:
                    copy = [list(sample[0])] + [list(x) if isinstance(x, list) else x for x in sample[1:]]
                    target["samples"].append(copy)
                    index[key] = copy
                elif metric["type"] == "histogram":
                    existing[1] = [a + b for a, b in zip(existing[1], sample[1])]
                    existing[2] += sample[2]
                elif metric["type"] == "gauge" and metric.get("aggregate") == "max":
                    existing[1] = max(existing[1], sample[1])
                else:
                    existing[1] += sample[1]
    return merged


# --------------------------------------------------------------------------- text format


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: tuple[str, str] | None = None) -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        pairs.append(f'{extra[0]}="{extra[1]}"')
    return "{" + ",".join(pairs) + "}" if pairs else ""


def render(snapshot: Snapshot) -> str:
    """Prometheus text exposition format 0.0.4."""
    lines: list[str] = []
    for name in sorted(snapshot):
        metric = snapshot[name]
        names = metric["labelnames"]
        lines.append(f"# HELP {name} {metric['help']}")
        lines.append(f"# TYPE {name} {metric['type']}")
        samples = sorted(metric["samples"], key=lambda s: tuple(s[0]))
        if metric["type"] == "histogram":
            for sample in samples:
                values, counts, total = sample[0], sample[1], sample[2]
                cumulative = 0
                for bound, count in zip(metric["buckets"] + [math.inf], counts):
                    cumulative += count
                    lines.append(f"{name}_bucket{_labels(names, values, ('le', _number(bound)))} {cumulative}")
                lines.append(f"{name}_sum{_labels(names, values)} {_number(total)}")
                lines.append(f"{name}_count{_labels(names, values)} {cumulative}")
        else:
            for sample in samples:
                suffix = "_total" if metric["type"] == "counter" and not name.endswith("_total") else ""
                lines.append(f"{name}{suffix}{_labels(names, sample[0])} {_number(sample[1])}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- multiprocess


class MultiprocessStore:
    """Per-process snapshot files in one directory, summed on read."""

    ARCHIVE = "archive.json"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, pid: int) -> Path:
        return self.directory / f"{pid}.json"

    def write(self, snapshot: Snapshot, pid: int | None = None) -> None:
        pid = os.getpid() if pid is None else pid
        path = self._path(pid)
        tmp = path.with_suffix(f".tmp{threading.get_ident()}")
        tmp.write_text(json.dumps(snapshot), encoding="utf-8")
        os.replace(tmp, path)

    def _read(self, path: Path) -> Snapshot | None:
        try:
            return cast(Snapshot, json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def collect(self, own: Snapshot | None = None, pid: int | None = None) -> Snapshot:
        """Sum of every live process's snapshot plus the archive of dead ones.

        ``own`` (this process's fresh snapshot) replaces its possibly stale file.
        """
        pid = os.getpid() if pid is None else pid
        self.archive_dead()
        snapshots: list[Snapshot] = []
        try:
            paths = sorted(self.directory.glob("*.json"))
        except OSError:
            paths = []
        for path in paths:
            if own is not None and path == self._path(pid):
                continue
            data = self._read(path)
            if data:
                snapshots.append(data)
        if own is not None:
            snapshots.append(own)
        return merge(snapshots)

    def socket_path(self, pid: int | None = None) -> Path | None:
        """Where the snapshot agent of ``pid`` listens; None when the path is too long for a socket."""
        path = self.directory / f"{os.getpid() if pid is None else pid}.sock"
        return path if len(os.fsencode(str(path))) <= _MAX_SOCKET_PATH else None

    def refresh(self, timeout: float = REFRESH_TIMEOUT, pid: int | None = None) -> int:
        """Ask the snapshot agent of every other process to write a fresh snapshot; wait for them.

        Returns how many answered within ``timeout`` seconds. The snapshots of those that
        did not (or have no agent) stay as they last wrote them.
        """
        own = self.socket_path(pid)
        try:
            paths = [path for path in self.directory.glob("*.sock") if path != own]
        except OSError:
            return 0
        if not paths:
            return 0
        answered = 0
        waiting: dict[int, socket.socket] = {}
        try:
            with selectors.DefaultSelector() as selector:
                for path in paths:
                    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    client.setblocking(False)
                    try:
                        client.connect(str(path))
                    except OSError:  # gone (refused, no such file) or its backlog is full
                        client.close()
                        continue
                    waiting[client.fileno()] = client
                    selector.register(client, selectors.EVENT_READ)
                deadline = time.monotonic() + timeout
                while waiting:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    for key, _ in selector.select(remaining):
                        client = waiting.pop(key.fd)
                        selector.unregister(client)
                        try:
                            if client.recv(1) == _WRITTEN:
                                answered += 1
                        except OSError:
                            pass
                        client.close()
        finally:
            for client in waiting.values():
                client.close()
        return answered

    def archive_dead(self) -> None:
        """Fold the snapshots of processes that no longer exist into the archive (their gauges are dropped).

        Run by every scrape; a lock file keeps two scrapes from folding the same snapshot twice.
        """
        try:
            dead = [int(path.stem) for path in self.directory.glob("*.json") if path.stem.isdigit() and not _alive(int(path.stem))]
        except OSError:
            return
        if not dead:
            return
        with open(self.directory / "archive.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for pid in dead:
                if self._path(pid).exists():
                    self.archive(pid)

    def archive(self, pid: int) -> None:
        """Fold a dead process's counters and histograms into the archive."""
        socket_path = self.socket_path(pid)
        if socket_path is not None:
            try:
                socket_path.unlink()
            except OSError:
                pass
        path = self._path(pid)
        dead = self._read(path)
        if dead:
            archive_path = self.directory / self.ARCHIVE
            archived = self._read(archive_path) or {}
            combined = merge([archived, dead], include_gauges=False)
            tmp = archive_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(combined), encoding="utf-8")
            os.replace(tmp, archive_path)
        try:
            path.unlink()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


#: What an agent sends once the fresh snapshot is written.
_WRITTEN = b"1"


class SnapshotAgent:
    """Writes this process's snapshot when another process asks (a scrape) and on a timer.

    A daemon thread accepts connections on the store's socket for this process: for each
    it writes the snapshot, answers one byte and closes. Between requests it wakes every
    ``interval`` seconds and writes the snapshot if :attr:`dirty` was set since the last
    write; the request path only sets that flag. Without a socket (its path too long)
    only the timer runs, every :data:`FLUSH_INTERVAL_WITHOUT_AGENT` seconds.
    """

    def __init__(
        self,
        store: MultiprocessStore,
        snapshot: Callable[[], Snapshot],
        interval: float | None = None,
        pid: int | None = None,
    ) -> None:
        self.store = store
        self._snapshot = snapshot
        #: The process whose snapshot this is (tests stand in for several).
        self.pid = os.getpid() if pid is None else pid
        #: Set when the counts changed; cleared by each write.
        self.dirty = False
        self._closed = False
        #: Orders writes: none of the agent's lands after close()'s last one.
        self._write_lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._socket_path = store.socket_path(self.pid)
        if self._socket_path is not None:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                try:
                    self._socket_path.unlink()
                except FileNotFoundError:
                    pass
                listener.bind(str(self._socket_path))
                listener.listen(64)
                self._listener = listener
            except OSError as exc:
                log.debug("no snapshot socket (%s); snapshots are written every %gs", exc, FLUSH_INTERVAL_WITHOUT_AGENT)
                listener.close()
                self._socket_path = None
        if interval is None:
            interval = FLUSH_INTERVAL if self._listener is not None else FLUSH_INTERVAL_WITHOUT_AGENT
        self.interval = interval
        if self._listener is not None:
            # Before the thread starts: close() may come at once and close the socket.
            self._listener.settimeout(interval)
        self._write()  # the first snapshot: a scrape finds this process from the start
        self._thread = threading.Thread(target=self._run, name="blacklodge-metrics", daemon=True)
        self._thread.start()

    @property
    def listening(self) -> bool:
        """Whether other processes can ask for a fresh snapshot."""
        return self._listener is not None

    def _write(self, last: bool = False) -> None:
        with self._write_lock:
            if self._closed:
                return
            if last:
                self._closed = True
            self.dirty = False
            try:
                self.store.write(self._snapshot(), self.pid)
            except OSError as exc:
                log.debug("could not write metrics snapshot: %s", exc)

    def _run(self) -> None:
        listener = self._listener
        if listener is None:
            while not self._closed:
                time.sleep(self.interval)
                if self.dirty:
                    self._write()
            return
        while not self._closed:
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                if self.dirty:
                    self._write()
                continue
            except OSError:  # closed by close()
                return
            with connection:
                self._write()
                try:
                    connection.sendall(_WRITTEN)
                except OSError:
                    pass  # the scrape stopped waiting

    def close(self) -> None:
        """Write the last snapshot, then stop answering and writing."""
        self._write(last=True)
        listener = self._listener
        if listener is not None:
            if self._socket_path is not None:
                try:
                    self._socket_path.unlink()
                except OSError:
                    pass
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread in accept()
            except OSError:
                pass
            listener.close()
