"""Prometheus metrics without a client library: counters, gauges, histograms.

A :class:`Registry` holds the metrics of one process and renders the text
exposition format (version 0.0.4). Every value lives in :class:`Values`: 8-byte
floats in memory, each metric's label set a ``memoryview`` over its slots (a
counter or gauge one slot, a histogram its buckets and sum), so an update is an
item assignment, as cheap as updating a list.

Across the worker processes of ``blacklodge web`` (a scrape reaches one of them),
the memory of each worker's :class:`Values` is a set of files in a private
directory (tmpfs when available), mapped with ``mmap``: what a worker counts is in
its file the moment it counts it, with no snapshot or message (the HTTP request metrics are
counted in batches every 50 ms, :mod:`blacklodge_harness.tally`). The worker
that answers ``/metrics`` reads every worker's files and adds them up
(:meth:`MultiprocessStore.collect`, the idea of prometheus_client's multiprocess
mode, without its module-level state: the user's own ``prometheus_client``, if
any, is never touched). A worker holds an exclusive ``flock`` on its first file
while it lives; a file nobody holds belongs to a worker that exited: its counters
and histograms are folded into ``archive.json`` (so totals never go backwards and
are never counted twice: the archive names the files it folded), its gauges are
dropped (they describe a process that is gone), and its files are removed.
"""

from __future__ import annotations

import bisect
import fcntl
import json
import logging
import math
import mmap
import os
import platform
import struct
import threading
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast
from collections.abc import Iterator, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = logging.getLogger("blacklodge.metrics")

#: Latency buckets in seconds: from fast JSON handlers to slow model calls.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

LabelValues = tuple[str, ...]
Snapshot = dict[str, dict[str, Any]]


class Slots(Protocol):
    """The slots of one label set of one metric: 8-byte floats (a ``memoryview`` cast to ``"d"``,
    which typeshed types as a view of ints)."""

    def __getitem__(self, index: int, /) -> float: ...

    def __setitem__(self, index: int, value: float, /) -> None: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[float]: ...


#: Bytes of one segment of values (a file of its own when shared); a new one is added when full.
SEGMENT_SIZE = 64 * 1024
#: A segment starts with the bytes in use (8-byte unsigned); entries follow: key length and
#: slot count (two 4-byte unsigned), the key (UTF-8 JSON ``[metric, [label values]]``) padded
#: to 8 bytes, the slots (8-byte floats). The length in use is written after the entry, so a
#: reader never sees half an entry.
_USED = struct.Struct("<Q")
_ENTRY = struct.Struct("<II")
_SUFFIX = ".values"


def _slot_key(name: str, labels: LabelValues) -> str:
    return json.dumps([name, list(labels)], ensure_ascii=False)


class Values:
    """The memory of one process's metric values, handed out as :data:`Slots`.

    Anonymous memory by default; with ``directory`` (``blacklodge web``'s workers) files
    named ``<pid>-<random>.<n>.values`` that other processes read
    (:class:`MultiprocessStore`). The first is ``flock``-ed for the life of the process.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        #: Prefix of this process's files (``None``: anonymous memory).
        self.group = f"{os.getpid()}-{os.urandom(4).hex()}" if directory is not None else None
        self._lock = threading.Lock()
        self._segments: list[tuple[mmap.mmap, memoryview[float]]] = []
        self._used = 0
        self._lock_fd: int | None = None

    def _new_segment(self) -> None:
        if self.directory is None:
            memory = mmap.mmap(-1, SEGMENT_SIZE)
        else:
            path = self.directory / f"{self.group}.{len(self._segments)}{_SUFFIX}"
            # Made under another name and renamed once locked and sized: a scrape never sees
            # this process's first file unlocked (it would take the process for one that exited).
            making = path.with_name(path.name + ".new")
            fd = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                if self._lock_fd is None:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # held (fd open) until the process exits
                os.ftruncate(fd, SEGMENT_SIZE)
                memory = mmap.mmap(fd, SEGMENT_SIZE)
                os.rename(making, path)
            except BaseException:
                os.close(fd)
                raise
            if self._lock_fd is None:
                self._lock_fd = fd
            else:
                os.close(fd)
        self._segments.append((memory, memoryview(memory).cast("d")))
        self._used = _USED.size

    def slots(self, name: str, labels: LabelValues, count: int) -> Slots:
        """``count`` new slots, all 0, for ``labels`` of the metric ``name``."""
        key = _slot_key(name, labels).encode("utf-8")
        start = _ENTRY.size + (len(key) + 7) // 8 * 8
        size = start + 8 * count
        if size > SEGMENT_SIZE - _USED.size:
            raise ValueError(f"metric {name}: label values too long ({len(key)} bytes)")
        with self._lock:
            if not self._segments or self._used + size > SEGMENT_SIZE:
                self._new_segment()
            memory, doubles = self._segments[-1]
            offset = self._used
            _ENTRY.pack_into(memory, offset, len(key), count)
            memory[offset + _ENTRY.size : offset + _ENTRY.size + len(key)] = key
            self._used = offset + size
            _USED.pack_into(memory, 0, self._used)  # last: the entry is complete
            first = (offset + start) // 8
            return cast(Slots, doubles[first : first + count])


def read_values(path: Path) -> list[tuple[str, tuple[float, ...]]]:
    """The (key, slot values) entries of one segment file; [] when it is gone or unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    if len(data) < _USED.size:
        return []
    (used,) = _USED.unpack_from(data, 0)
    used = min(used, len(data))
    entries: list[tuple[str, tuple[float, ...]]] = []
    offset = _USED.size
    while offset + _ENTRY.size <= used:
        length, count = _ENTRY.unpack_from(data, offset)
        start = offset + _ENTRY.size + (length + 7) // 8 * 8
        end = start + 8 * count
        if end > used:
            break
        key = data[offset + _ENTRY.size : offset + _ENTRY.size + length].decode("utf-8", "replace")
        entries.append((key, struct.unpack_from(f"<{count}d", data, start)))
        offset = end
    return entries


class _Metric:
    kind = ""
    #: Slots per label set.
    width = 1

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str], lock: threading.Lock, values: Values) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = lock
        self._memory = values
        self._values: dict[LabelValues, Slots] = {}

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {sorted(labels)}")
        return tuple(str(labels[name]) for name in self.labelnames)

    def slots_locked(self, key: LabelValues = ()) -> Slots:
        """The slots of one label set (made on first use), for a caller holding :attr:`Registry.lock`.
        They stay the label set's for good: a hot path may keep them."""
        slots = self._values.get(key)
        if slots is None:
            slots = self._values[key] = self._memory.slots(self.name, key, self.width)
        return slots

    def snapshot(self) -> dict[str, Any]:
        return {"samples": [[list(k), v[0]] for k, v in self._values.items()]}


class Counter(_Metric):
    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.inc_key(self._key(labels), amount)

    def inc_key(self, key: LabelValues, amount: float = 1.0) -> None:
        """``inc`` with the label values already in label-name order (the request hot path)."""
        with self._lock:
            self.inc_locked(key, amount)

    def inc_locked(self, key: LabelValues, amount: float = 1.0) -> None:
        """``inc_key`` for a caller holding the registry's :attr:`Registry.lock` (several updates, one lock)."""
        slots = self._values.get(key) or self.slots_locked(key)
        slots[0] += amount

    def value(self, **labels: str) -> float:
        slots = self._values.get(self._key(labels))
        return slots[0] if slots is not None else 0.0


class Gauge(_Metric):
    """A value that goes up and down. ``aggregate`` is how workers combine: sum or max."""

    kind = "gauge"

    def __init__(self, *args: Any, aggregate: str = "sum") -> None:
        super().__init__(*args)
        self.aggregate = aggregate

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.inc_key(self._key(labels), amount)

    def inc_key(self, key: LabelValues, amount: float = 1.0) -> None:
        """``inc`` with the label values already in label-name order (the request hot path)."""
        with self._lock:
            slots = self._values.get(key) or self.slots_locked(key)
            slots[0] += amount

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self.slots_locked(key)[0] = value

    def value(self, **labels: str) -> float:
        slots = self._values.get(self._key(labels))
        return slots[0] if slots is not None else 0.0

    def snapshot(self) -> dict[str, Any]:
        return {"aggregate": self.aggregate, **super().snapshot()}


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, *args: Any, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        super().__init__(*args)
        self.buckets = tuple(sorted(buckets))
        # Per label set: the count per bucket (not cumulative), the +Inf bucket's count, then the sum.
        self.width = len(self.buckets) + 2

    def observe(self, value: float, **labels: str) -> None:
        self.observe_key(value, self._key(labels))

    def observe_key(self, value: float, key: LabelValues = ()) -> None:
        """``observe`` with the label values already in label-name order (the request hot path)."""
        with self._lock:
            self.observe_locked(value, key)

    def observe_locked(self, value: float, key: LabelValues = ()) -> None:
        """``observe_key`` for a caller holding the registry's :attr:`Registry.lock`."""
        entry = self._values.get(key) or self.slots_locked(key)
        # The first bucket whose upper bound is >= value; len(buckets) is the +Inf bucket.
        entry[bisect.bisect_left(self.buckets, value)] += 1
        entry[-1] += value

    def entry_locked(self, key: LabelValues = ()) -> Slots:
        """The slots of one label set, for a hot path observing itself under :attr:`Registry.lock`:
        ``entry[bisect.bisect_left(buckets, value)] += 1; entry[-1] += value``, as
        :meth:`observe_locked` does. They stay the label set's for good."""
        return self.slots_locked(key)

    def count(self, **labels: str) -> int:
        entry = self._values.get(self._key(labels))
        return int(sum(list(entry)[:-1])) if entry is not None else 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "buckets": list(self.buckets),
            "samples": [[list(k), [int(c) for c in list(entry)[:-1]], entry[-1]] for k, entry in list(self._values.items())],
        }


_M = TypeVar("_M", bound=_Metric)


class Registry:
    """The metrics of one process; their values in ``values`` (anonymous memory by default)."""

    def __init__(self, values: Values | None = None) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, _Metric] = {}
        self.values = values if values is not None else Values()

    def _add(self, metric: _M) -> _M:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} registered twice")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help_text, labelnames, self._lock, self.values))

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = (), *, aggregate: str = "sum") -> Gauge:
        return self._add(Gauge(name, help_text, labelnames, self._lock, self.values, aggregate=aggregate))

    def histogram(
        self, name: str, help_text: str, labelnames: Sequence[str] = (), *, buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        return self._add(Histogram(name, help_text, labelnames, self._lock, self.values, buckets=buckets))

    @property
    def lock(self) -> threading.Lock:
        """The one lock of every metric here: hold it around several ``*_locked`` updates."""
        return self._lock

    def describe(self) -> Snapshot:
        """Every metric's type, help, label names (and buckets, aggregation), without samples."""
        described: Snapshot = {}
        for name, metric in self._metrics.items():
            entry: dict[str, Any] = {"type": metric.kind, "help": metric.help, "labelnames": list(metric.labelnames), "samples": []}
            if isinstance(metric, Histogram):
                entry["buckets"] = list(metric.buckets)
            if isinstance(metric, Gauge):
                entry["aggregate"] = metric.aggregate
            described[name] = entry
        return described

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
    """The directory of the workers' value files (:class:`Values`), summed on read."""

    ARCHIVE = "archive.json"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def values(self) -> Values:
        """This process's values, in files of this directory."""
        return Values(self.directory)

    def _groups(self) -> dict[str, list[Path]]:
        """Each process's segment files, by file name prefix (``<pid>-<random>``)."""
        groups: dict[str, list[Path]] = {}
        try:
            paths = sorted(self.directory.glob(f"*{_SUFFIX}"), key=lambda p: (p.name.split(".")[0], int(p.name.split(".")[1])))
        except (OSError, ValueError, IndexError):
            return groups
        for path in paths:
            groups.setdefault(path.name.split(".")[0], []).append(path)
        return groups

    def _alive(self, group: str) -> bool:
        """Whether the process of ``group`` still holds the lock on its first file."""
        try:
            fd = os.open(self.directory / f"{group}.0{_SUFFIX}", os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also releases a lock just taken
        return False

    def _read_archive(self) -> dict[str, Any]:
        try:
            archive = json.loads((self.directory / self.ARCHIVE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"folded": [], "values": {}}
        return cast("dict[str, Any]", archive)

    def _fold_dead(self, kinds: dict[str, str]) -> dict[str, Any]:
        """Fold the files of processes that exited into the archive, remove them; the archive.

        Under a lock file, so two scrapes never fold the same files. The archive names the
        groups it folded: if the process stops between writing it and removing the files,
        the next scrape skips (and removes) them instead of counting them twice.
        """
        with open(self.directory / "archive.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            archive = self._read_archive()
            groups = self._groups()
            folded = set(archive["folded"])
            dead = [group for group in groups if group not in folded and not self._alive(group)]
            if dead:
                totals: dict[str, list[float]] = archive["values"]
                for group in dead:
                    for path in groups[group]:
                        for key, slots in read_values(path):
                            if kinds.get(_metric_of(key)) in ("counter", "histogram"):  # gauges are dropped
                                _add_into(totals, key, slots)
                # Names of groups whose files are gone are no longer needed.
                archive["folded"] = sorted(name for name in folded | set(dead) if name in groups)
                tmp = self.directory / f"{self.ARCHIVE}.tmp"
                tmp.write_text(json.dumps(archive), encoding="utf-8")
                os.replace(tmp, self.directory / self.ARCHIVE)
            for group in set(archive["folded"]) & set(groups):
                for path in groups[group]:
                    try:
                        path.unlink()
                    except OSError:
                        pass
        return archive

    def collect(self, registry: Registry) -> Snapshot:
        """Every process's values summed (counters and histograms also of exited ones), as a snapshot
        of ``registry``'s metrics (every worker has the same ones)."""
        described = registry.describe()
        kinds = {name: metric["type"] for name, metric in described.items()}
        archive = self._fold_dead(kinds)
        sums: dict[str, list[float]] = {key: list(slots) for key, slots in archive["values"].items()}
        maxima: set[str] = {name for name, metric in described.items() if metric.get("aggregate") == "max"}
        folded = set(archive["folded"])
        for group, paths in self._groups().items():
            if group in folded:
                continue
            for path in paths:
                for key, slots in read_values(path):
                    if _metric_of(key) in maxima and key in sums:
                        sums[key] = [max(a, b) for a, b in zip(sums[key], slots)]
                    else:
                        _add_into(sums, key, slots)
        for key, total in sums.items():
            name, labels = json.loads(key)
            metric = described.get(name)
            if metric is None:
                continue
            if metric["type"] == "histogram":
                metric["samples"].append([labels, [int(c) for c in total[:-1]], total[-1]])
            else:
                metric["samples"].append([labels, total[0]])
        return described


def _metric_of(key: str) -> str:
    return cast(str, json.loads(key)[0])


def _add_into(totals: dict[str, list[float]], key: str, slots: Sequence[float]) -> None:
    existing = totals.get(key)
    if existing is None:
        totals[key] = list(slots)
    else:
        totals[key] = [a + b for a, b in zip(existing, slots)]
