"""The deadline watchdog: answers overrunning calls on time without being woken per request."""

from __future__ import annotations

import random
import socket
import threading
import time
from typing import Any, Callable, Iterator, List, Tuple

import pytest

from blacklodge_harness.watchdog import Ticket, Watchdog


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    left, right = socket.socketpair()
    yield left
    left.close()
    right.close()


@pytest.fixture
def watchdogs() -> Iterator[Callable[..., Watchdog]]:
    """Makes watchdogs and stops them after the test."""
    made: List[Watchdog] = []

    def make(on_expire: Callable[[Ticket], None], timeout: float) -> Watchdog:
        made.append(Watchdog(on_expire, timeout))
        return made[-1]

    yield make
    for watchdog in made:
        watchdog.stop()


class Expired:
    """Collects (ticket, time) for each call the watchdog answered."""

    def __init__(self) -> None:
        self.calls: List[Tuple[Ticket, float]] = []
        self.event = threading.Event()

    def __call__(self, ticket: Ticket) -> None:
        self.calls.append((ticket, time.monotonic()))
        self.event.set()


def test_fast_calls_do_not_wake_the_watchdog_thread(sock: socket.socket, watchdogs: Callable[..., Watchdog]) -> None:
    watchdog = watchdogs(Expired(), timeout=5.0)
    waits = []
    real_wait = watchdog._wake.wait

    def counting_wait(timeout: Any = None) -> bool:
        waits.append(timeout)
        return real_wait(timeout)

    watchdog._wake.wait = counting_wait  # type: ignore[method-assign]
    for key in range(200):
        now = time.monotonic()
        watchdog.watch(key, now + 5.0, sock, "rid", now, {})
        assert watchdog.release(key)
    time.sleep(0.1)
    # The thread went to sleep once (until the first deadline) and nothing woke it since.
    assert len(waits) <= 2, waits


def test_call_registered_while_idle_is_answered_at_its_deadline(
    sock: socket.socket, watchdogs: Callable[..., Watchdog]
) -> None:
    expired = Expired()
    watchdog = watchdogs(expired, timeout=0.4)
    now = time.monotonic()
    watchdog.watch(1, now + 0.4, sock, "fast", now, {})
    assert watchdog.release(1)
    time.sleep(0.15)  # the thread is idle now, sleeping one timeout
    started = time.monotonic()
    watchdog.watch(2, started + 0.4, sock, "slow", started, {})
    assert expired.event.wait(3)
    ticket, answered_at = expired.calls[0]
    assert (ticket.key, ticket.request_id) == (2, "slow")
    assert started + 0.4 <= answered_at < started + 0.4 + 0.15
    assert not watchdog.release(2)  # answered already: the caller discards its result
    assert watchdog.overrunning == 0 and not watchdog.calls


def test_earlier_deadline_than_the_planned_wake_up_wakes_the_thread(
    sock: socket.socket, watchdogs: Callable[..., Watchdog]
) -> None:
    expired = Expired()
    watchdog = watchdogs(expired, timeout=5.0)
    now = time.monotonic()
    watchdog.watch(1, now + 5.0, sock, "first", now, {})
    time.sleep(0.1)  # the thread sleeps until the first call's deadline, 5 s away
    # A call whose request started long ago (a slow upload) has an earlier deadline.
    watchdog.watch(2, time.monotonic() + 0.2, sock, "early", now - 4.8, {})
    assert expired.event.wait(2)
    assert [ticket.request_id for ticket, _ in expired.calls] == ["early"]
    assert watchdog.release(1)


def test_calls_ending_around_their_deadline_are_answered_by_exactly_one_side(
    sock: socket.socket, watchdogs: Callable[..., Watchdog]
) -> None:
    """Releases racing the expiry: each call is either released in time or answered by the
    watchdog (and then released with False), never both, never neither, nothing left behind."""
    expired = Expired()
    watchdog = watchdogs(expired, timeout=0.02)
    released: List[Tuple[int, bool]] = []

    def calls(first: int) -> None:
        rng = random.Random(first)
        for key in range(first, first + 40):
            started = time.monotonic()
            watchdog.watch(key, started + 0.02, sock, str(key), started, {})
            time.sleep(rng.uniform(0.0, 0.04))
            released.append((key, watchdog.release(key)))

    threads = [threading.Thread(target=calls, args=(first,)) for first in (0, 1000, 2000, 3000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(released) == 160
    answered = sorted(ticket.key for ticket, _ in expired.calls)
    assert answered == sorted(key for key, in_time in released if not in_time)
    assert 0 < len(answered) < 160  # both sides of the race were taken
    assert watchdog.overrunning == 0 and not watchdog.calls and not watchdog._answered
