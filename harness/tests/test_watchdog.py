"""The deadline watchdog: answers overrunning calls on time without being woken per request."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Iterator, List, Tuple

import pytest

from blacklodge_harness.watchdog import Ticket, Watchdog


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    left, right = socket.socketpair()
    yield left
    left.close()
    right.close()


class Expired:
    """Collects (ticket, time) for each call the watchdog answered."""

    def __init__(self) -> None:
        self.calls: List[Tuple[Ticket, float]] = []
        self.event = threading.Event()

    def __call__(self, ticket: Ticket) -> None:
        self.calls.append((ticket, time.monotonic()))
        self.event.set()


def test_fast_calls_do_not_wake_the_watchdog_thread(sock: socket.socket) -> None:
    watchdog = Watchdog(Expired(), timeout=5.0)
    waits = []
    real_wait = watchdog._wake.wait

    def counting_wait(timeout: Any = None) -> bool:
        waits.append(timeout)
        return real_wait(timeout)

    watchdog._wake.wait = counting_wait  # type: ignore[method-assign]
    try:
        for _ in range(200):
            now = time.monotonic()
            assert watchdog.release(watchdog.watch(now + 5.0, sock, "rid", now, {}))
        time.sleep(0.1)
        # The thread went to sleep once (until the first deadline) and nothing woke it since.
        assert len(waits) <= 2, waits
    finally:
        watchdog.stop()


def test_call_registered_while_idle_is_answered_at_its_deadline(sock: socket.socket) -> None:
    expired = Expired()
    watchdog = Watchdog(expired, timeout=0.4)
    try:
        now = time.monotonic()
        assert watchdog.release(watchdog.watch(now + 0.4, sock, "fast", now, {}))
        time.sleep(0.15)  # the thread is idle now, sleeping one timeout
        started = time.monotonic()
        slow = watchdog.watch(started + 0.4, sock, "slow", started, {})
        assert expired.event.wait(3)
        ticket, answered_at = expired.calls[0]
        assert ticket is slow
        assert started + 0.4 <= answered_at < started + 0.4 + 0.15
        assert not watchdog.release(slow)  # answered already: the caller discards its result
    finally:
        watchdog.stop()


def test_earlier_deadline_than_the_planned_wake_up_wakes_the_thread(sock: socket.socket) -> None:
    expired = Expired()
    watchdog = Watchdog(expired, timeout=5.0)
    try:
        now = time.monotonic()
        first = watchdog.watch(now + 5.0, sock, "first", now, {})
        time.sleep(0.1)  # the thread sleeps until the first call's deadline, 5 s away
        # A call whose request started long ago (a slow upload) has an earlier deadline.
        early = watchdog.watch(time.monotonic() + 0.2, sock, "early", now - 4.8, {})
        assert expired.event.wait(2)
        assert [ticket.request_id for ticket, _ in expired.calls] == ["early"]
        assert watchdog.release(first)
    finally:
        watchdog.stop()
