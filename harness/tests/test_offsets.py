"""The offset tracker: only a contiguous acknowledged range is ever committable."""

from __future__ import annotations

import random
import threading

import pytest

from blacklodge_harness.offsets import OffsetTracker

TP = ("orders", 0)
OTHER = ("orders", 1)


def tracker_with(offsets: list, tp: tuple = TP) -> tuple:
    tracker = OffsetTracker()
    tracker.assign(tp)
    epoch = tracker.received(tp, offsets)
    return tracker, epoch


def test_nothing_is_committable_before_the_first_acknowledgement() -> None:
    tracker, _ = tracker_with([0, 1, 2])
    assert tracker.commit_candidates() == {}


def test_in_order_acknowledgements_move_the_position_one_past_the_offset() -> None:
    tracker, epoch = tracker_with([0, 1, 2])
    tracker.acked(TP, epoch, 0)
    assert tracker.commit_candidates() == {TP: 1}
    tracker.acked(TP, epoch, 1)
    tracker.acked(TP, epoch, 2)
    assert tracker.commit_candidates() == {TP: 3}


def test_a_gap_holds_the_position_until_it_is_filled() -> None:
    tracker, epoch = tracker_with([10, 11, 12, 13])
    tracker.acked(TP, epoch, 11)
    tracker.acked(TP, epoch, 13)
    assert tracker.commit_candidates() == {}  # 10 is still out: nothing may be committed
    tracker.acked(TP, epoch, 10)
    assert tracker.commit_candidates() == {TP: 12}  # 12 is still out
    assert tracker.in_flight(TP) == 2
    tracker.acked(TP, epoch, 12)
    assert tracker.commit_candidates() == {TP: 14}
    assert tracker.in_flight(TP) == 0


def test_offsets_need_not_be_consecutive_numbers() -> None:
    # Compaction and transaction markers leave holes: 5 and 9 are all the consumer delivered.
    tracker, epoch = tracker_with([5, 9])
    tracker.acked(TP, epoch, 9)
    assert tracker.commit_candidates() == {}
    tracker.acked(TP, epoch, 5)
    assert tracker.commit_candidates() == {TP: 10}


def test_random_acknowledgement_orders_never_commit_past_an_unacknowledged_offset() -> None:
    rng = random.Random(7)
    for _ in range(200):
        offsets = sorted(rng.sample(range(1000), 40))
        tracker, epoch = tracker_with(offsets)
        order = offsets[:]
        rng.shuffle(order)
        acked: set = set()
        for offset in order:
            tracker.acked(TP, epoch, offset)
            acked.add(offset)
            position = tracker.commit_candidates().get(TP)
            unacked = [o for o in offsets if o not in acked]
            expected = (unacked[0] if unacked else offsets[-1] + 1)
            if position is None:
                assert offsets[0] not in acked
            else:
                # The position is one past the last offset of the acknowledged prefix.
                prefix = [o for o in offsets if o < expected]
                assert position == prefix[-1] + 1
                assert all(o in acked for o in offsets if o < position)


def test_partitions_are_independent() -> None:
    tracker = OffsetTracker()
    tracker.assign(TP)
    tracker.assign(OTHER)
    e0 = tracker.received(TP, [0, 1])
    e1 = tracker.received(OTHER, [0, 1])
    tracker.acked(OTHER, e1, 0)
    tracker.acked(TP, e0, 1)
    assert tracker.commit_candidates() == {OTHER: 1}


def test_commit_candidates_are_batched_and_only_report_moved_positions() -> None:
    tracker, epoch = tracker_with(list(range(100)))
    for offset in range(50):
        tracker.acked(TP, epoch, offset)
    # One candidate for fifty acknowledgements: a commit covers them all.
    assert tracker.commit_candidates() == {TP: 50}
    tracker.mark_committed({TP: 50})
    assert tracker.commit_candidates() == {}
    tracker.acked(TP, epoch, 50)
    assert tracker.commit_candidates() == {TP: 51}
    # A late answer to an older commit never moves the committed position back.
    tracker.mark_committed({TP: 51})
    tracker.mark_committed({TP: 40})
    assert tracker.snapshot()[TP] == (51, 51, 49, 99)


def test_revoke_returns_the_uncommitted_position_and_forgets_the_partition() -> None:
    tracker, epoch = tracker_with([0, 1, 2, 3])
    tracker.acked(TP, epoch, 0)
    tracker.acked(TP, epoch, 1)
    tracker.acked(TP, epoch, 3)  # 2 is in flight: the position stays at 2
    assert tracker.revoke(TP) == 2
    assert tracker.assigned() == []
    assert tracker.commit_candidates() == {}


def test_revoke_returns_nothing_when_the_position_is_already_committed() -> None:
    tracker, epoch = tracker_with([0, 1])
    tracker.acked(TP, epoch, 0)
    tracker.mark_committed({TP: 1})
    assert tracker.revoke(TP) is None
    fresh = OffsetTracker()
    assert fresh.revoke(TP) is None  # never assigned


def test_late_acknowledgements_of_a_revoked_assignment_are_ignored() -> None:
    tracker, old_epoch = tracker_with([0, 1, 2])
    tracker.revoke(TP)
    assert tracker.acked(TP, old_epoch, 0) is False  # revoked: nothing to move
    new_epoch = tracker.assign(TP)
    assert new_epoch != old_epoch
    tracker.received(TP, [0, 1, 2])  # the same offsets, delivered again to the new assignment
    # The old assignment's callback for offset 0 must not count for the new one.
    assert tracker.acked(TP, old_epoch, 0) is False
    assert tracker.commit_candidates() == {}
    assert tracker.acked(TP, new_epoch, 0) is True
    assert tracker.commit_candidates() == {TP: 1}


def test_commits_of_revoked_partitions_are_not_recorded_for_a_new_assignment() -> None:
    tracker, epoch = tracker_with([0])
    tracker.acked(TP, epoch, 0)
    tracker.revoke(TP)
    tracker.mark_committed({TP: 1})  # the answer to a commit sent before the revocation
    tracker.assign(TP)
    assert tracker.snapshot()[TP] == (None, None, 0, -1)


def test_misuse_is_an_error() -> None:
    tracker, epoch = tracker_with([3, 4])
    with pytest.raises(ValueError, match="offset 4 of orders/0 received after offset 4"):
        tracker.received(TP, [4])
    with pytest.raises(ValueError, match="offset 2 of orders/0 received after offset 4"):
        tracker.received(TP, [2])
    with pytest.raises(ValueError, match="offset 7 of orders/0 was not received or is acknowledged twice"):
        tracker.acked(TP, epoch, 7)
    tracker.acked(TP, epoch, 4)
    with pytest.raises(ValueError, match="offset 4 of orders/0 was not received or is acknowledged twice"):
        tracker.acked(TP, epoch, 4)
    with pytest.raises(KeyError):
        tracker.received(OTHER, [0])


def test_concurrent_acknowledgements_from_many_threads() -> None:
    tracker, epoch = tracker_with(list(range(20000)))
    offsets = list(range(20000))
    random.Random(3).shuffle(offsets)
    chunks = [offsets[i::4] for i in range(4)]
    threads = [threading.Thread(target=lambda c=c: [tracker.acked(TP, epoch, o) for o in c]) for c in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tracker.commit_candidates() == {TP: 20000}
    assert tracker.in_flight(TP) == 0


def test_acknowledgements_in_one_go_skip_an_earlier_assignment_and_keep_the_gap_rule() -> None:
    tracker, old_epoch = tracker_with([0, 1, 2])
    tracker.revoke(TP)
    epoch = tracker.assign(TP)
    tracker.received(TP, [0, 1, 2, 3])
    other = tracker.assign(OTHER)
    tracker.received(OTHER, [5])
    tracker.acked_many([(TP, old_epoch, 0), (TP, epoch, 1), (TP, epoch, 3), (OTHER, other, 5)])
    assert tracker.commit_candidates() == {OTHER: 6}  # offset 0 of TP is not acknowledged by the old epoch
    tracker.acked_many([(TP, epoch, 0)])
    assert tracker.commit_candidates() == {TP: 2, OTHER: 6}
    with pytest.raises(ValueError, match="offset 1 of orders/0 was not received or is acknowledged twice"):
        tracker.acked_many([(TP, epoch, 1)])
