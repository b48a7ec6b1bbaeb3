"""The state the parts of the Kafka worker share (:class:`WorkerState`), and the records of
its bookkeeping: an assigned partition, a watched handler call, a processing thread's turn."""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any

from confluent_kafka import Consumer, Message, Producer

from blacklodge_harness.config import Settings
from blacklodge_harness.core import Handler, HandlerMetrics
from blacklodge_harness.kafka_records import SOURCE_PARTITION, SOURCE_TOPIC, TP, Failure, Headers, log
from blacklodge_harness.metrics import Registry, register_app_info
from blacklodge_harness.offsets import OffsetTracker

class Partition:
    """One assigned partition: its queue of fetched records and its processing state."""

    __slots__ = ("tp", "epoch", "queue", "busy", "stopped", "idle", "abort", "paused", "sent", "delivered", "retry", "source")

    def __init__(self, tp: TP, epoch: int) -> None:
        self.tp = tp
        self.epoch = epoch
        self.queue: deque[Message] = deque()
        #: On a processing thread, or waiting for one.
        self.busy = False
        #: Revoked, lost or stopping: queued records are dropped, no new ones are taken.
        self.stopped = False
        #: Set while not busy.
        self.idle = threading.Event()
        self.idle.set()
        #: Set to cut a retry's wait short.
        self.abort = threading.Event()
        self.paused = False
        #: Inputs whose records were handed to the producer (counted by the thread processing
        #: the partition) and inputs whose records were all acknowledged or failed (counted
        #: by the polling thread, the only one serving the producer's callbacks): one writer
        #: each, so no lock; the difference is what is still in flight.
        self.sent = 0
        self.delivered = 0
        #: (offset, attempts made, error type, message) of a record whose call overran its
        #: deadline on another thread: the thread that takes over continues its attempts.
        self.retry: tuple[int, int, str, str] | None = None
        #: The provenance headers naming the partition, encoded once.
        self.source: Headers = [(SOURCE_TOPIC, tp[0].encode()), (SOURCE_PARTITION, str(tp[1]).encode())]


class Call:
    """A handler call the deadline thread watches: ``rest`` is what remains of the thread's
    turn on the partition (handed over with the record when the call overruns)."""

    __slots__ = ("deadline", "part", "message", "attempt", "rest")

    def __init__(self, deadline: float, part: Partition, message: Message, attempt: int, rest: deque[Message]) -> None:
        self.deadline = deadline
        self.part = part
        self.message = message
        self.attempt = attempt
        self.rest = rest


class Turn(threading.local):
    """What a processing thread collects during one turn and adds to the metrics at its end
    (one lock per turn instead of one per record)."""

    def __init__(self) -> None:
        self.rest: deque[Message] = deque()
        self.outcomes: dict[str, int] = {}
        self.durations: list[float] = []
        #: Calls that returned normally (the common outcome, counted apart).
        self.ok = 0
        #: This thread polls and processes records itself (see kafka_consumer).
        self.inline = False


class WorkerState:
    """What the parts of the worker share: settings, handler, partitions, offsets, metrics,
    the lock and the stop signal, and the few methods they all use."""

    def __init__(self, settings: Settings, handler: Handler) -> None:
        self.settings = settings
        self.handler = handler
        self.started_at = datetime.now(timezone.utc)
        self.tracker = OffsetTracker()
        self.parts: dict[TP, Partition] = {}
        self.lock = threading.Lock()
        self.ready_parts: deque[Partition | None] = deque()
        self.work_available = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.failure: Failure | None = None
        self.joined = False
        self.broker_down = False
        self.closing = False
        self.heartbeat = time.monotonic()
        self.consumer: Consumer | None = None
        self.producer: Producer | None = None
        #: When each kind of complaint (message, error code) was last logged: once per 30 s.
        self._last_client_error: dict[tuple[str, int], float] = {}

        self.registry = Registry()
        self.handler_metrics = HandlerMetrics(self.registry)
        registry = self.registry
        self.consumed = registry.counter("blacklodge_kafka_messages_consumed_total", "Records fetched from the input topics.", ["topic"])
        self.produced = registry.counter(
            "blacklodge_kafka_messages_produced_total", "Records the broker acknowledged, by topic (output and dead-letter).", ["topic"]
        )
        self.retried = registry.counter("blacklodge_kafka_messages_retried_total", "Handler retries, by input topic.", ["topic"])
        self.dead_lettered = registry.counter(
            "blacklodge_kafka_messages_dead_lettered_total", "Input records sent to the dead-letter topic, by input topic and error type.", ["topic", "error_type"]
        )
        self.commits = registry.counter("blacklodge_kafka_commits_total", "Offset commits by outcome (ok, error).", ["outcome"])
        self.commit_lag = registry.gauge(
            "blacklodge_kafka_commit_lag", "Records fetched and not yet covered by a committed offset, per partition.", ["topic", "partition"]
        )
        self.consumer_lag = registry.gauge(
            "blacklodge_kafka_consumer_lag", "Records in the partition after the committed offset (high watermark - committed).", ["topic", "partition"]
        )
        self.assigned_gauge = registry.gauge("blacklodge_kafka_assigned_partitions", "Partitions assigned to this worker.")
        self.broker_up = registry.gauge("blacklodge_kafka_broker_up", "1 while the brokers are reachable, 0 during an outage.")
        self.broker_up.set(1)
        register_app_info(registry, settings.app_name, settings.app_version, settings.revision)
        #: The processing threads started with the worker (see kafka_processing).
        self.threads: list[threading.Thread] = []
        #: Calls being watched, by id(call) (dict.pop decides between return and expiry).
        self.calls: dict[int, Call] = {}
        #: Calls that overran their deadline and still run.
        self.overrunning = 0
        self.deadlines_done = threading.Event()
        #: The thread running the poll loop; replaced when a call on it runs long (kafka_consumer).
        self.poller: threading.Thread | None = None
        #: Records are processed on the polling thread while the handler is fast.
        self.inline = True
        #: When the call running on the polling thread started (0 when none runs).
        self.inline_since = 0.0
        #: Moving average of the calls' durations on the polling thread.
        self.inline_average = 0.0
        #: Set when the poll loop has ended and the shutdown is done; the exit code.
        self.finished = threading.Event()
        self.exit_code = 0
        self.turn = Turn()
        #: Record values are decoded as JSON (BLACKLODGE_KAFKA_VALUE_FORMAT=json).
        self.json_values = settings.kafka_value_format != "bytes"
        #: The Kafka clients could not be closed: the process must end without waiting for them.
        self.exit_at_once = False
        #: Records acknowledged since the last flush into the metrics, by topic (polling thread only).
        self.produced_counts: dict[str, int] = {}
        #: Inputs whose records were all acknowledged during the current poll of the producer:
        #: handed to the tracker (one lock) and counted as delivered when the poll returns.
        self.acknowledged: list[Any] = []

    def _stop_parts(self, parts: list[Partition]) -> None:
        with self.lock:
            for part in parts:
                part.stopped = True
                part.queue.clear()
                part.abort.set()

    def _fail(self, failure: Failure) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = failure
        self.stopping.set()

    def _log_throttled(self, code: int, fmt: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_client_error.get((fmt, code), -1e9) >= 30.0:
            self._last_client_error[(fmt, code)] = now
            log.warning(fmt, *args)

    def _brokers_back(self) -> None:
        if self.broker_down:
            log.info("the brokers are reachable again")
        self.broker_down = False
        self.broker_up.set(1)

