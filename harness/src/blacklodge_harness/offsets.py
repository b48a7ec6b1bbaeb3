"""Which input offsets a Kafka worker may commit: the contiguous acknowledged range.

An input record is *acknowledged* once everything it led to is safe: its output records (or
its dead-letter record) were acknowledged by the broker, or the handler returned nothing to
send. Acknowledgements come in any order (several partitions in flight, producer callbacks on
another thread), but a partition's committed position may only move past offset *x* when *x*
and every offset received before it on that partition are acknowledged: committing past a
gap would lose the record in the gap if the worker crashed.

Offsets of a partition need not be consecutive numbers (compaction and transaction markers
leave holes); the tracker follows the offsets it was given, in the order the consumer
delivered them, and a position is "the last contiguously acknowledged offset + 1", the value
Kafka's commit API expects.

Each assignment of a partition gets a new *epoch*. An acknowledgement carrying the epoch of
an earlier assignment (a producer callback arriving after the partition was revoked and
assigned again) is ignored, so it can never move the position of the new assignment.

The tracker is thread-safe; every method takes one lock and is O(1) amortized per offset.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable

#: (topic, partition)
TopicPartition = tuple[str, int]

_epochs = itertools.count(1)


class _Partition:
    __slots__ = ("epoch", "pending", "outstanding", "position", "committed", "last_received")

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        #: Offsets received and not yet part of the contiguous acknowledged prefix, in order.
        self.pending: deque[int] = deque()
        #: Offsets in ``pending`` that are not acknowledged yet.
        self.outstanding: set[int] = set()
        #: Next offset to commit (last contiguously acknowledged + 1); None before the first.
        self.position: int | None = None
        #: The position last reported as committed.
        self.committed: int | None = None
        self.last_received = -1


def _ack(state: _Partition, tp: TopicPartition, offset: int) -> None:
    """Acknowledge ``offset`` of ``state`` (the tracker's lock held)."""
    try:
        state.outstanding.remove(offset)
    except KeyError:
        raise ValueError(f"offset {offset} of {tp[0]}/{tp[1]} was not received or is acknowledged twice") from None
    pending, outstanding = state.pending, state.outstanding
    if pending[0] == offset:
        last = pending.popleft()
        while pending and pending[0] not in outstanding:
            last = pending.popleft()
        state.position = last + 1


class OffsetTracker:
    """Received and acknowledged offsets per assigned partition, and what may be committed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._partitions: dict[TopicPartition, _Partition] = {}

    # -- assignment

    def assign(self, tp: TopicPartition) -> int:
        """Start tracking ``tp`` afresh (any earlier state is dropped); returns its epoch."""
        epoch = next(_epochs)
        with self._lock:
            self._partitions[tp] = _Partition(epoch)
        return epoch

    def revoke(self, tp: TopicPartition) -> int | None:
        """Stop tracking ``tp``. Returns its position if it moved past the last commit
        (the caller commits it before giving the partition up), else None.

        Acknowledgements for it that arrive later are ignored.
        """
        with self._lock:
            state = self._partitions.pop(tp, None)
        if state is None or state.position is None or state.position == state.committed:
            return None
        return state.position

    def epoch(self, tp: TopicPartition) -> int | None:
        with self._lock:
            state = self._partitions.get(tp)
            return state.epoch if state is not None else None

    def assigned(self) -> list[TopicPartition]:
        with self._lock:
            return sorted(self._partitions)

    # -- offsets

    def received(self, tp: TopicPartition, offsets: Iterable[int]) -> int:
        """Record offsets handed to processing, in the order the consumer delivered them.

        Returns the partition's epoch, which the acknowledgements must carry. Raises
        ``KeyError`` for a partition that is not assigned and ``ValueError`` for an offset
        that is not above the last one received (the consumer never goes back unless asked).
        """
        with self._lock:
            state = self._partitions[tp]
            last = state.last_received
            for offset in offsets:
                if offset <= last:
                    raise ValueError(f"offset {offset} of {tp[0]}/{tp[1]} received after offset {last}")
                state.pending.append(offset)
                state.outstanding.add(offset)
                last = offset
            state.last_received = last
            return state.epoch

    def acked(self, tp: TopicPartition, epoch: int, offset: int) -> bool:
        """Acknowledge one offset. Returns False when it belongs to an earlier assignment
        (revoked since): then nothing changes. Raises ``ValueError`` for an offset that was
        never received or is acknowledged twice."""
        with self._lock:
            state = self._partitions.get(tp)
            if state is None or state.epoch != epoch:
                return False
            _ack(state, tp, offset)
            return True

    def acked_many(self, acks: Iterable[tuple[TopicPartition, int, int]]) -> None:
        """:meth:`acked` for each (partition, epoch, offset), under one lock (acknowledgements of
        an earlier assignment are skipped)."""
        with self._lock:
            partitions = self._partitions
            for tp, epoch, offset in acks:
                state = partitions.get(tp)
                if state is not None and state.epoch == epoch:
                    _ack(state, tp, offset)

    # -- commits

    def commit_candidates(self) -> dict[TopicPartition, int]:
        """Positions that moved since they were last committed: what a batched commit sends."""
        with self._lock:
            return {
                tp: state.position
                for tp, state in self._partitions.items()
                if state.position is not None and state.position != state.committed
            }

    def mark_committed(self, positions: dict[TopicPartition, int]) -> None:
        """Record positions the broker accepted (partitions revoked since are skipped)."""
        with self._lock:
            for tp, position in positions.items():
                state = self._partitions.get(tp)
                if state is not None and (state.committed is None or position > state.committed):
                    state.committed = position

    # -- observation

    def in_flight(self, tp: TopicPartition) -> int:
        """Offsets of ``tp`` received and not contiguously acknowledged (0 when not assigned)."""
        with self._lock:
            state = self._partitions.get(tp)
            return len(state.pending) if state is not None else 0

    def snapshot(self) -> dict[TopicPartition, tuple[int | None, int | None, int, int]]:
        """Per partition: (position, committed, offsets not yet contiguously acknowledged,
        last offset received or -1)."""
        with self._lock:
            return {tp: (s.position, s.committed, len(s.pending), s.last_received) for tp, s in self._partitions.items()}
