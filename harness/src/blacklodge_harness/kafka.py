"""Kafka mode: ``blacklodge worker``, the handler as a member of a consumer group.

Delivery guarantee: at least once, nothing lost. Offsets are never committed automatically;
an input offset is committed only when everything it led to (its output records, or its
dead-letter record) was acknowledged by the broker, and every earlier offset of its partition
too (:mod:`blacklodge_harness.offsets`). The producer is idempotent with ``acks=all``.

Threads:

* the **main thread** polls the consumer (rebalance callbacks run there), hands each
  partition's records to its queue, pauses partitions whose queue is full, and commits the
  committable positions every ``BLACKLODGE_KAFKA_COMMIT_INTERVAL`` seconds (asynchronously,
  one request for all partitions);
* ``BLACKLODGE_KAFKA_CONCURRENCY`` **processing threads** take partitions with queued records
  and process a partition's records one after the other (order is kept within a partition;
  a partition is never on two threads at once), calling the handler themselves;
* the main thread also serves the **producer's delivery callbacks**, which acknowledge offsets;
* with ``BLACKLODGE_TIMEOUT``, a **deadline thread** (asleep unless a call overruns): a call
  still running at its deadline counts as a failed attempt; its thread is left to finish it
  in the background (the result is discarded) and a new thread takes over the partition;
* the **admin server** answers probes, metrics and the info endpoint.

Handing every call to another thread would cost two thread switches per record, the largest
cost of all on a busy machine (bench/results/kafka.md); hence the calls on the processing
threads and a watcher that sleeps.

A record whose value cannot be decoded, that the handler rejects (``BadInput``), whose
result cannot be encoded, or whose handler call still fails after the retries goes to the
dead-letter topic; without one the worker stops without committing it and exits 1.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import signal
import threading
import time
from collections import deque
import itertools
from datetime import datetime, timezone
from types import FrameType, MappingProxyType
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from blacklodge_harness import __version__, logs
from blacklodge_harness.admin import AdminServer
from blacklodge_harness.config import Settings
from blacklodge_harness.core import (
    Context,
    Handler,
    HandlerFailed,
    HandlerMetrics,
    HandlerReportedError,
    NotReady,
    ResultNotSerializable,
    encode_json,
    new_request_id,
)
from blacklodge_harness.errors import BadInput, HarnessError
from blacklodge_harness.fastpath import REQUEST_ID_RE
from blacklodge_harness.metrics import Registry
from blacklodge_harness.offsets import OffsetTracker

log = logging.getLogger("blacklodge.kafka")

EXIT_OK = 0
#: A record failed (see above) and no dead-letter topic is configured.
EXIT_MESSAGE_FAILED = 1
#: The entry point could not be imported, instantiated or loaded.
EXIT_LOAD_FAILED = 4
#: Kafka refused the work: a record was not delivered, or the client hit a fatal error.
EXIT_KAFKA_FAILED = 5
#: The admin port could not be bound.
EXIT_ADMIN_PORT = 6

SOURCE_TOPIC = "blacklodge-source-topic"
SOURCE_PARTITION = "blacklodge-source-partition"
SOURCE_OFFSET = "blacklodge-source-offset"
REQUEST_ID = "x-request-id"
ERROR_TYPE = "blacklodge-error-type"
ERROR_MESSAGE = "blacklodge-error-message"
#: Headers the worker sets itself: an input's own values for these are replaced.
_OWN_HEADERS = frozenset({SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET, REQUEST_ID, ERROR_TYPE, ERROR_MESSAGE})

#: Records fetched per poll, and handed to a processing thread per turn.
POLL_BATCH = 500
TURN_BATCH = 64
#: A partition with this many queued records is paused until its queue is down to half
#: (pausing drops what the client fetched ahead for it, so not too often).
MAX_QUEUED = 2000
#: Longest wait between retries.
MAX_BACKOFF = 30.0
#: Liveness fails when the poll loop has not turned for this long.
STALL_AFTER = 60.0
#: Longest error message put in a dead-letter header.
MAX_ERROR_MESSAGE = 1000

TP = Tuple[str, int]
#: Record headers as the client gives and takes them (values are bytes when consumed).
Headers = List[Tuple[str, Union[str, bytes, None]]]


class Failure(Exception):
    """Why the worker stops with an error: exit code and the message for the log."""

    def __init__(self, code: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


class _Overran(Exception):
    """The call overran its deadline: the deadline thread handed the partition to another
    processing thread, and this one ends once the call returns."""


class Permanent(Exception):
    """A record that no retry can fix: ``error_type`` goes into the dead-letter headers."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


# --------------------------------------------------------------------------- configuration


class _Throttle(logging.Filter):
    """Lets a message through at most once per ``interval`` seconds (numbers in it ignored):
    librdkafka repeats the same complaint many times a second while a broker is away."""

    def __init__(self, interval: float = 30.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: Dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = re.sub(r"\d+", "#", record.getMessage())
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.interval:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        return True


_client_log = logging.getLogger("blacklodge.kafka.client")
_client_log.addFilter(_Throttle())


def client_config(settings: Settings) -> Dict[str, Any]:
    """What the consumer and the producer share: brokers, security, logging."""
    config: Dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "client.id": f"blacklodge-{settings.app_name}",
        "security.protocol": settings.kafka_security_protocol,
        "logger": _client_log,
    }
    optional = {
        "sasl.mechanism": settings.kafka_sasl_mechanism,
        "sasl.username": settings.kafka_sasl_username,
        "sasl.password": settings.kafka_sasl_password,
        "ssl.ca.location": settings.kafka_ssl_ca_location,
        "ssl.certificate.location": settings.kafka_ssl_certificate_location,
        "ssl.key.location": settings.kafka_ssl_key_location,
        "ssl.key.password": settings.kafka_ssl_key_password,
    }
    config.update({key: str(value) for key, value in optional.items() if value is not None})
    return config


def consumer_config(settings: Settings) -> Dict[str, Any]:
    session_ms = int(settings.kafka_session_timeout * 1000)
    return {
        "group.id": settings.kafka_group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": settings.kafka_auto_offset_reset,
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(100, min(3000, session_ms // 3)),
        # Only the partitions that move are revoked in a rebalance; the others keep working.
        "partition.assignment.strategy": "cooperative-sticky",
        "isolation.level": "read_committed",
    }


def producer_config() -> Dict[str, Any]:
    return {
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        # Never give up on a record while the brokers are away: an outage is waited out.
        "message.timeout.ms": 0,
    }


# --------------------------------------------------------------------------- the worker


class _Partition:
    """One assigned partition: its queue of fetched records and its processing state."""

    __slots__ = ("tp", "epoch", "queue", "busy", "stopped", "idle", "abort", "paused", "sent", "delivered", "retry")

    def __init__(self, tp: TP, epoch: int) -> None:
        self.tp = tp
        self.epoch = epoch
        self.queue: Deque[Message] = deque()
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
        #: by the main thread, the only one serving the producer's callbacks): one writer
        #: each, so no lock; the difference is what is still in flight.
        self.sent = 0
        self.delivered = 0
        #: (offset, attempts made, error type, message) of a record whose call overran its
        #: deadline on another thread: the thread that takes over continues its attempts.
        self.retry: Optional[Tuple[int, int, str, str]] = None


class _Delivery:
    """The delivery callback of the records one input led to: the last acknowledgement
    acknowledges the input offset."""

    __slots__ = ("worker", "part", "offset", "remaining", "topic", "dead_letter")

    def __init__(self, worker: "Worker", part: _Partition, offset: int, remaining: int, topic: str, dead_letter: bool = False) -> None:
        self.worker = worker
        self.part = part
        self.offset = offset
        self.remaining = remaining
        self.topic = topic
        self.dead_letter = dead_letter

    def __call__(self, error: Optional[KafkaError], _message: Message) -> None:
        self.worker.delivered(self, error)


class _Call:
    """A handler call the deadline thread watches: ``rest`` is what remains of the thread's
    turn on the partition (handed over with the record when the call overruns)."""

    __slots__ = ("deadline", "part", "message", "attempt", "rest")

    def __init__(self, deadline: float, part: _Partition, message: Message, attempt: int, rest: "Deque[Message]") -> None:
        self.deadline = deadline
        self.part = part
        self.message = message
        self.attempt = attempt
        self.rest = rest


class _Turn(threading.local):
    """What a processing thread collects during one turn and adds to the metrics at its end
    (one lock per turn instead of one per record)."""

    def __init__(self) -> None:
        self.rest: Deque[Message] = deque()
        self.outcomes: Dict[str, int] = {}
        self.durations: List[float] = []


class Worker:
    """The consumer group member. :meth:`run` returns the process's exit code."""

    def __init__(self, settings: Settings, handler: Handler) -> None:
        self.settings = settings
        self.handler = handler
        self.started_at = datetime.now(timezone.utc)
        self.tracker = OffsetTracker()
        self.parts: Dict[TP, _Partition] = {}
        self.lock = threading.Lock()
        self.ready_parts: "Deque[Optional[_Partition]]" = deque()
        self.work_available = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.failure: Optional[Failure] = None
        self.joined = False
        self.broker_down = False
        self.closing = False
        self.heartbeat = time.monotonic()
        self.consumer: Optional[Consumer] = None
        self.producer: Optional[Producer] = None
        #: When each kind of complaint (message, error code) was last logged: once per 30 s.
        self._last_client_error: Dict[Tuple[str, int], float] = {}

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
        info = registry.gauge(
            "blacklodge_app_info",
            "Application and harness versions (value is always 1).",
            ["app", "version", "revision", "harness_version", "python_version"],
            aggregate="max",
        )
        info.set(
            1,
            app=settings.app_name,
            version=settings.app_version or "",
            revision=settings.revision or "",
            harness_version=__version__,
            python_version=platform.python_version(),
        )
        self.threads = [self._new_thread() for _ in range(settings.kafka_concurrency)]
        #: Calls being watched, by call number (dict.pop decides between return and expiry).
        self.calls: Dict[int, _Call] = {}
        self.call_numbers = itertools.count()
        #: Calls that overran their deadline and still run.
        self.overrunning = 0
        self.deadlines_done = threading.Event()
        self.turn = _Turn()
        #: The Kafka clients could not be closed: the process must end without waiting for them.
        self.exit_at_once = False
        #: Records acknowledged since the last flush into the metrics, by topic (main thread only).
        self._produced_counts: Dict[str, int] = {}

    # ------------------------------------------------------------------ probes

    def liveness(self) -> Tuple[bool, Dict[str, Any]]:
        stalled = time.monotonic() - self.heartbeat
        if stalled > STALL_AFTER:
            return False, {"reason": f"the poll loop has not turned for {stalled:.0f} s"}
        if self.overrunning >= 2 * self.settings.kafka_concurrency:
            return False, {"reason": f"{self.overrunning} handler calls overran their timeout and still run"}
        return True, {}

    def readiness(self) -> Tuple[bool, Dict[str, Any]]:
        if self.stopping.is_set():
            return False, {"reason": "stopping"}
        ready, reason = self.handler.readiness()
        if not ready:
            return False, {"reason": reason}
        if self.broker_down:
            return False, {"reason": "brokers unreachable"}
        if not self.joined:
            return False, {"reason": "waiting for a partition assignment"}
        return True, {"partitions": len(self.parts)}

    def info(self) -> Dict[str, Any]:
        entry = self.handler.entry
        settings = self.settings
        return {
            "app": {"name": settings.app_name, "version": settings.app_version, "revision": settings.revision},
            "entrypoint": {
                "spec": settings.entrypoint,
                "kind": entry.kind if entry else None,
                "call": entry.style.value if entry else None,
            },
            "state": self.handler.state.value,
            "kafka": {
                "group_id": settings.kafka_group_id,
                "topics": list(settings.kafka_topics),
                "output_topic": settings.kafka_output_topic,
                "dlq_topic": settings.kafka_dlq_topic,
                "value_format": settings.kafka_value_format,
                "assigned": [f"{topic}/{partition}" for topic, partition in sorted(self.parts)],
            },
            "harness": {"version": __version__},
            "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "uptime_seconds": round((datetime.now(timezone.utc) - self.started_at).total_seconds(), 3),
        }

    # ------------------------------------------------------------------ run

    def run(self) -> int:
        settings = self.settings
        try:
            admin = AdminServer(
                settings.host, settings.admin_port, liveness=self.liveness, readiness=self.readiness, metrics=self.registry.render, info=self.info
            )
        except OSError as exc:
            log.critical("cannot listen on %s:%d for the admin server (probes, metrics): %s", settings.host, settings.admin_port, exc)
            return EXIT_ADMIN_PORT
        admin.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            try:
                self.handler.start()
            except BaseException as exc:  # noqa: BLE001 - any failure to load ends the worker
                if isinstance(exc, HarnessError):
                    log.critical("cannot load the entry point: %s", exc.render())
                else:
                    log.critical("loading the entry point failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
                return EXIT_LOAD_FAILED
            if self.stopping.is_set():
                return EXIT_OK
            return self._consume()
        finally:
            self.deadlines_done.set()
            self.handler.shutdown()
            admin.close()

    def _on_signal(self, signum: int, _frame: Optional[FrameType]) -> None:
        if not self.stopping.is_set():
            log.info("received %s: stopping (finishing in-flight records, then committing)", signal.Signals(signum).name)
        self.stopping.set()

    def _consume(self) -> int:
        settings = self.settings
        common = client_config(settings)
        try:
            self.producer = Producer({**common, **producer_config(), "error_cb": self._on_client_error})
            self.consumer = consumer = Consumer(
                {**common, **consumer_config(settings), "error_cb": self._on_client_error, "on_commit": self._on_commit}
            )
        except KafkaException as exc:
            log.critical("the Kafka client refused its settings: %s", exc.args[0].str() if exc.args else exc)
            return EXIT_KAFKA_FAILED
        for thread in self.threads:
            thread.start()
        if settings.timeout > 0:
            threading.Thread(target=self._watch_deadlines, name="blacklodge-deadlines", daemon=True).start()
        log.info(
            "consuming %s as group %s (output: %s, dead letters: %s, value format: %s, concurrency: %d, brokers: %s)",
            ",".join(settings.kafka_topics),
            settings.kafka_group_id,
            settings.kafka_output_topic or "none (consume only)",
            settings.kafka_dlq_topic or "none (a failing record stops the worker)",
            settings.kafka_value_format,
            settings.kafka_concurrency,
            settings.kafka_bootstrap_servers,
        )
        consumer.subscribe(list(settings.kafka_topics), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
        next_commit = time.monotonic() + settings.kafka_commit_interval
        next_probe = 0.0
        producer = self.producer
        while not self.stopping.is_set():
            self.heartbeat = now = time.monotonic()
            # While partitions are paused, come back soon: their queues drain fast and want resuming.
            paused = any(part.paused for part in self.parts.values())
            messages = consumer.consume(POLL_BATCH, 0.005 if paused else 0.1)
            if messages:
                self._dispatch(messages)
            self._serve_acknowledgements(0)
            self._flow_control()
            if now >= next_commit:
                self._commit()
                self._update_lag()
                next_commit = now + settings.kafka_commit_interval
            if self.broker_down and now >= next_probe:
                next_probe = now + 2.0
                self._probe_brokers()
        return self._shutdown()

    # ------------------------------------------------------------------ main thread: records in

    def _dispatch(self, messages: Sequence[Message]) -> None:
        by_partition: Dict[TP, List[Message]] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_message_error(error, message)
                continue
            tp = (message.topic() or "", message.partition() or 0)
            batch = by_partition.get(tp)
            if batch is None:
                batch = by_partition[tp] = []
            batch.append(message)
        if by_partition and self.broker_down:
            self._brokers_back()
        for tp, batch in by_partition.items():
            part = self.parts.get(tp)
            if part is None or part.stopped:
                continue  # revoked since the fetch: the records come again to the next owner
            try:
                self.tracker.received(tp, [m.offset() or 0 for m in batch])
            except ValueError as exc:  # the partition went back (truncated log): offsets could no longer be trusted
                self._fail(Failure(EXIT_KAFKA_FAILED, f"{exc}; stopping so that nothing is committed wrongly (a restart resumes at the last commit)"))
                return
            self.consumed.inc(len(batch), topic=tp[0])
            with self.lock:
                part.queue.extend(batch)
                if not part.busy:
                    part.busy = True
                    part.idle.clear()
                    self.ready_parts.append(part)
                    self.work_available.notify()

    def _flow_control(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        for part in list(self.parts.values()):
            queued = len(part.queue)
            if not part.paused and queued >= MAX_QUEUED:
                consumer.pause([TopicPartition(*part.tp)])
                part.paused = True
            elif part.paused and queued <= MAX_QUEUED // 2:
                consumer.resume([TopicPartition(*part.tp)])
                part.paused = False

    # ------------------------------------------------------------------ processing threads

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._process_loop, name="blacklodge-kafka", daemon=True)

    def _process_loop(self) -> None:
        lock = self.lock
        turn = self.turn
        rest = turn.rest
        while True:
            with lock:
                while not self.ready_parts:
                    self.work_available.wait()
                part = self.ready_parts.popleft()
                if part is not None and not part.stopped:
                    queue = part.queue
                    rest.extend(queue.popleft() for _ in range(min(TURN_BATCH, len(queue))))
            if part is None:
                return
            while rest and not part.stopped:
                message = rest.popleft()
                try:
                    self._process(part, message)
                except _Overran:
                    # The deadline thread handed the partition (and the rest of this turn) to a
                    # new thread; this one is done.
                    self._flush_turn_metrics(turn)
                    return
                except Exception as exc:  # noqa: BLE001 - stops the worker; nothing is committed past this record
                    if not isinstance(exc, Failure):
                        log.exception("internal error while processing a record")
                        exc = Failure(EXIT_KAFKA_FAILED, f"internal error while processing {_where(message)}: {type(exc).__name__}: {exc}")
                    self._stop_parts([part])  # the records after it are not processed either
                    self._fail(exc)
                    break
            rest.clear()
            self._flush_turn_metrics(turn)
            with lock:
                if part.queue and not part.stopped:
                    self.ready_parts.append(part)
                    self.work_available.notify()
                else:
                    part.busy = False
                    part.idle.set()

    def _process(self, part: _Partition, message: Message) -> None:
        topic, partition, offset = part.tp[0], part.tp[1], message.offset() or 0
        headers = cast(Headers, message.headers() or [])
        request_id = _request_id(headers)
        id_token = logs.set_request_id(request_id)
        fields_token = logs.set_fields(MappingProxyType({"topic": topic, "partition": partition, "offset": offset}))
        try:
            try:
                payload = self._decode(message.value())
                values = self._call_with_retries(part, message, payload, headers, request_id)
            except Permanent as problem:
                self._dead_letter(part, message, headers, request_id, problem)
                return
            if values is None:
                return  # abandoned (stopping or revoked): not acknowledged, so not committed
            output = self.settings.kafka_output_topic
            if output is None or not values:
                self.tracker.acked(part.tp, part.epoch, offset)
                return
            out_headers = _pass_through(headers) + _provenance(topic, partition, offset, request_id)
            delivery = _Delivery(self, part, offset, len(values), output)
            part.sent += 1
            for value in values:
                try:
                    self._produce(output, value, message.key(), out_headers, delivery)
                except KafkaException as exc:
                    # The record itself is refused (too large, ...): a dead letter like any bad result.
                    # The acknowledgements of its records already sent then count for nothing.
                    delivery.remaining = -(1 << 30)
                    part.sent -= 1
                    self._dead_letter(part, message, headers, request_id, Permanent("output_rejected", f"the output record was refused: {exc.args[0]}"))
                    return
        finally:
            logs.reset_fields(fields_token)
            logs.reset_request_id(id_token)

    def _decode(self, value: Optional[bytes]) -> Any:
        if self.settings.kafka_value_format == "bytes" or value is None:
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            raise Permanent("invalid_json", f"the record value is not valid JSON: {exc}") from None

    def _call_with_retries(
        self, part: _Partition, message: Message, payload: Any, headers: Headers, request_id: str
    ) -> Optional[List[bytes]]:
        """The encoded results, or None when the record was abandoned (worker stopping)."""
        settings = self.settings
        context = self._context(message, headers, request_id) if self.handler.wants_context else None
        offset = message.offset() or 0
        attempt, failed = 0, None
        if part.retry is not None and part.retry[0] == offset:  # its last call overran on another thread
            attempt, failed = part.retry[1], (part.retry[2], part.retry[3])
        part.retry = None
        while True:
            if failed is not None:
                error_type, error = failed
                if attempt > settings.kafka_max_retries:
                    raise Permanent(error_type, error)
                delay = min(MAX_BACKOFF, settings.kafka_retry_backoff * (2 ** (attempt - 1)))
                self.retried.inc(topic=part.tp[0])
                log.warning("attempt %d of %d failed (%s); retrying in %.2f s", attempt, settings.kafka_max_retries + 1, error, delay)
                if part.abort.wait(delay) or part.stopped:
                    log.info("stopping: the record is left uncommitted and will be processed again")
                    return None
            attempt += 1
            try:
                return self._invoke(part, message, payload, context, attempt)
            except BadInput as exc:
                raise Permanent("bad_input", exc.message) from None
            except ResultNotSerializable as exc:
                raise Permanent("result_not_serializable", str(exc)) from None
            except (HandlerFailed, HandlerReportedError, NotReady) as exc:
                failed = ("handler_error", str(exc))
                if attempt > settings.kafka_max_retries and isinstance(exc, HandlerFailed):
                    log.error("the handler failed on attempt %d of %d", attempt, attempt, exc_info=exc.exc)

    def _invoke(self, part: _Partition, message: Message, payload: Any, context: Optional[Context], attempt: int) -> List[bytes]:
        """Call the handler on this thread (watched by the deadline thread) and encode the results.

        Raises what the call raised, or :class:`_Overran` when it returned after its deadline.
        """
        timeout = self.settings.timeout
        turn = self.turn
        started = time.monotonic()
        number = -1
        if timeout > 0:
            number = next(self.call_numbers)
            self.calls[number] = _Call(started + timeout, part, message, attempt, turn.rest)
        outcome = "error"
        try:
            result = self.handler.call(payload, context)
            outcome = "ok"
            return _encode_all(result)
        except BadInput:
            outcome = "bad_input"
            raise
        finally:
            if timeout > 0 and self.calls.pop(number, None) is None:
                # The deadline thread took over: this thread ends here, the result is dropped.
                with self.lock:
                    self.overrunning -= 1
                self.handler_metrics.abandoned.dec()
                log.warning("a call that overran its deadline has finished (%s); its result is discarded", outcome)
                raise _Overran()
            turn.outcomes[outcome] = turn.outcomes.get(outcome, 0) + 1
            turn.durations.append(time.monotonic() - started)

    def _flush_turn_metrics(self, turn: _Turn) -> None:
        metrics = self.handler_metrics
        with self.registry.lock:
            for outcome, count in turn.outcomes.items():
                metrics.calls.inc_locked((outcome,), count)
            for duration in turn.durations:
                metrics.duration.observe_locked(duration)
        turn.outcomes.clear()
        turn.durations.clear()

    def _watch_deadlines(self) -> None:
        """Hand the partition of a call that overran its deadline to a new processing thread."""
        timeout = self.settings.timeout
        while not self.deadlines_done.is_set():
            now = time.monotonic()
            calls = list(self.calls.items())
            earliest = min((call.deadline for _, call in calls), default=now + timeout)
            if earliest > now:
                # A call registered later has a later deadline: nothing needs to wake this sooner.
                self.deadlines_done.wait(earliest - now)
                continue
            for number, call in calls:
                if call.deadline <= now and self.calls.pop(number, None) is not None:
                    self._take_over(call)

    def _take_over(self, call: _Call) -> None:
        part, message = call.part, call.message
        offset = message.offset() or 0
        self.handler_metrics.calls.inc(outcome="timeout")
        self.handler_metrics.abandoned.inc()
        error = f"the handler did not finish within {self.settings.timeout:g}s"
        log.warning(
            "%s; the call keeps running in the background and the record is retried on another thread",
            error,
            extra={"topic": part.tp[0], "partition": part.tp[1], "offset": offset},
        )
        with self.lock:
            self.overrunning += 1
            part.queue.extendleft(reversed([message, *call.rest]))
            call.rest.clear()
            part.retry = (offset, call.attempt, "timeout", error)
            if part.stopped:
                part.busy = False
                part.idle.set()
            else:
                self.ready_parts.appendleft(part)  # still busy: owned by the new thread from now on
                self.work_available.notify()
        self._new_thread().start()

    def _context(self, message: Message, headers: Headers, request_id: str) -> Context:
        timestamp_type, timestamp = message.timestamp()
        return self.handler.context(
            request_id,
            "kafka",
            headers={name: _text(value) for name, value in headers},
            metadata={
                "topic": message.topic(),
                "partition": message.partition(),
                "offset": message.offset(),
                "key": message.key(),
                "timestamp_ms": timestamp if timestamp_type else None,
            },
        )

    def _dead_letter(
        self, part: _Partition, message: Message, headers: Headers, request_id: str, problem: Permanent
    ) -> None:
        topic, partition, offset = part.tp[0], part.tp[1], message.offset() or 0
        dlq = self.settings.kafka_dlq_topic
        if dlq is None:
            raise Failure(
                EXIT_MESSAGE_FAILED,
                f"the record at {topic}/{partition} offset {offset} failed ({problem.error_type}: {problem.message}) and no dead-letter "
                f"topic is configured: stopping without committing offset {offset}. Fix the handler or the record, or set "
                f"BLACKLODGE_KAFKA_DLQ_TOPIC; a restarted worker resumes at this offset.",
                error_type=problem.error_type,
                topic=topic,
                partition=partition,
                offset=offset,
            )
        log.warning("sending the record to the dead-letter topic %s (%s: %s)", dlq, problem.error_type, problem.message)
        self.dead_lettered.inc(topic=topic, error_type=problem.error_type)
        dlq_headers = (
            _pass_through(headers)
            + _provenance(topic, partition, offset, request_id)
            + [(ERROR_TYPE, problem.error_type.encode()), (ERROR_MESSAGE, problem.message[:MAX_ERROR_MESSAGE].encode("utf-8", "replace"))]
        )
        part.sent += 1
        try:
            self._produce(dlq, message.value(), message.key(), dlq_headers, _Delivery(self, part, offset, 1, dlq, dead_letter=True))
        except KafkaException as exc:
            raise Failure(
                EXIT_KAFKA_FAILED,
                f"the dead-letter record for {topic}/{partition} offset {offset} was refused by the producer: {exc.args[0]}",
            ) from None

    def _produce(self, topic: str, value: Optional[bytes], key: Optional[bytes], headers: Headers, delivery: _Delivery) -> None:
        producer = self.producer
        assert producer is not None
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=delivery)
                return
            except BufferError:  # the local queue is full until the main thread serves acknowledgements
                time.sleep(0.005)

    # ------------------------------------------------------------------ acknowledgements (main thread)

    def _serve_acknowledgements(self, timeout: float, *, flush: bool = False) -> int:
        """Serve the producer's delivery callbacks (on the main thread only) and count them;
        with ``flush``, until every record is acknowledged or ``timeout`` passed (returns
        how many are left)."""
        producer = self.producer
        assert producer is not None
        left = producer.flush(timeout) if flush else producer.poll(timeout)
        counts = self._produced_counts
        if counts:
            with self.registry.lock:
                for topic, count in counts.items():
                    self.produced.inc_locked((topic,), count)
            counts.clear()
        return left

    def delivered(self, delivery: _Delivery, error: Optional[KafkaError]) -> None:
        part = delivery.part
        if error is not None:
            if delivery.remaining > 0:
                part.delivered += 1
            delivery.remaining = -(1 << 30)
            self._fail(
                Failure(
                    EXIT_KAFKA_FAILED,
                    f"the {'dead-letter' if delivery.dead_letter else 'output'} record for {part.tp[0]}/{part.tp[1]} offset "
                    f"{delivery.offset} was not delivered to {delivery.topic}: {error.str()}; stopping without committing it",
                )
            )
            return
        counts = self._produced_counts
        counts[delivery.topic] = counts.get(delivery.topic, 0) + 1
        delivery.remaining -= 1
        if delivery.remaining == 0:
            self.tracker.acked(part.tp, part.epoch, delivery.offset)
            part.delivered += 1

    # ------------------------------------------------------------------ commits

    def _commit(self) -> None:
        positions = self.tracker.commit_candidates()
        if not positions or self.consumer is None:
            return
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=True)
        except KafkaException as exc:
            self.commits.inc(outcome="error")
            self._log_throttled(exc.args[0].code(), "committing offsets failed: %s (retried at the next commit)", exc.args[0].str())

    def _on_commit(self, error: Optional[KafkaError], partitions: List[TopicPartition]) -> None:
        if error is not None:
            self.commits.inc(outcome="error")
            self._log_throttled(error.code(), "committing offsets failed: %s (retried at the next commit)", error.str())
            return
        self.commits.inc(outcome="ok")
        if self.broker_down:
            self._brokers_back()
        self.tracker.mark_committed({(p.topic, p.partition): p.offset for p in partitions if p.error is None and p.offset >= 0})

    def _commit_now(self, positions: Dict[TP, int], why: str) -> None:
        """A synchronous commit (rebalance): the partitions change owner right after."""
        if not positions or self.consumer is None:
            return
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=False)
            self.commits.inc(outcome="ok")
            log.info("committed %s (%s)", _positions(positions), why)
        except KafkaException as exc:
            self.commits.inc(outcome="error")
            log.warning("committing %s failed (%s): %s; the next owner processes them again", _positions(positions), why, exc.args[0])

    def _update_lag(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        for (topic, partition), (_position, committed, _pending, last) in self.tracker.snapshot().items():
            if last >= 0:
                self.commit_lag.set(max(0, last + 1 - (committed or 0)) if committed is not None else last + 1, topic=topic, partition=str(partition))
            try:
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            except KafkaException:
                continue
            if high is not None and high >= 0 and committed is not None:
                self.consumer_lag.set(max(0, high - committed), topic=topic, partition=str(partition))

    # ------------------------------------------------------------------ rebalances

    def _on_assign(self, _consumer: Consumer, partitions: List[TopicPartition]) -> None:
        for tp in ((p.topic, p.partition) for p in partitions):
            previous = self.parts.get(tp)
            if previous is not None:  # assigned again without a revocation: the old state is void
                self._stop_parts([previous])
            self.parts[tp] = _Partition(tp, self.tracker.assign(tp))
        self.joined = True
        self.assigned_gauge.set(len(self.parts))
        if partitions:
            log.info("assigned %s (now %d partitions)", _names(partitions), len(self.parts))

    def _on_revoke(self, _consumer: Consumer, partitions: List[TopicPartition]) -> None:
        """Finish the records in flight (within the grace period), commit, let go."""
        tps = [(p.topic, p.partition) for p in partitions]
        if not tps:
            return
        if self.closing:
            self._forget(tps)
            return
        deadline = time.monotonic() + self.settings.grace_period
        parts = [self.parts[tp] for tp in tps if tp in self.parts]
        self._stop_parts(parts)
        finished = self._wait_for(parts, deadline)
        positions = {tp: position for tp in tps if (position := self.tracker.revoke(tp)) is not None}
        self._commit_now(positions, "partitions revoked")
        self._forget(tps)
        log.info("revoked %s%s", _names(partitions), "" if finished else " (records still in flight were abandoned: not committed)")

    def _on_lost(self, _consumer: Consumer, partitions: List[TopicPartition]) -> None:
        """The group moved on without us: nothing may be committed; work in flight is dropped."""
        tps = [(p.topic, p.partition) for p in partitions]
        self._stop_parts([self.parts[tp] for tp in tps if tp in self.parts])
        self._forget(tps)
        log.warning("lost %s (the session expired): their uncommitted records go to the new owner", _names(partitions))

    def _stop_parts(self, parts: List[_Partition]) -> None:
        with self.lock:
            for part in parts:
                part.stopped = True
                part.queue.clear()
                part.abort.set()

    def _wait_for(self, parts: List[_Partition], deadline: float) -> bool:
        """Wait until the parts' records in processing are done and their records delivered
        (serving the delivery callbacks meanwhile)."""
        while time.monotonic() < deadline:
            if all(part.idle.is_set() and part.sent == part.delivered for part in parts):
                return True
            self._serve_acknowledgements(0.005)
        return False

    def _forget(self, tps: List[TP]) -> None:
        for tp in tps:
            self.tracker.revoke(tp)
            self.parts.pop(tp, None)
            self.commit_lag.set(0, topic=tp[0], partition=str(tp[1]))
            self.consumer_lag.set(0, topic=tp[0], partition=str(tp[1]))
        self.assigned_gauge.set(len(self.parts))

    # ------------------------------------------------------------------ errors and outages

    def _fail(self, failure: Failure) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = failure
        self.stopping.set()

    def _on_client_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fail(Failure(EXIT_KAFKA_FAILED, f"the Kafka client hit a fatal error: {error.str()}"))
            return
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            if not self.broker_down:
                log.warning("all brokers are unreachable (%s); waiting for them", error.str())
            self.broker_down = True
            self.broker_up.set(0)
            return
        self._log_throttled(error.code(), "Kafka client error: %s", error.str())

    def _on_message_error(self, error: KafkaError, message: Message) -> None:
        if error.fatal():
            self._fail(Failure(EXIT_KAFKA_FAILED, f"consuming failed with a fatal error: {error.str()}"))
        else:
            self._log_throttled(error.code(), "consuming %s: %s", message.topic() or "", error.str())

    def _log_throttled(self, code: int, fmt: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_client_error.get((fmt, code), -1e9) >= 30.0:
            self._last_client_error[(fmt, code)] = now
            log.warning(fmt, *args)

    def _probe_brokers(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        try:
            metadata = consumer.list_topics(timeout=1.0)
        except KafkaException:
            return
        if metadata.brokers:
            self._brokers_back()

    def _brokers_back(self) -> None:
        if self.broker_down:
            log.info("the brokers are reachable again")
        self.broker_down = False
        self.broker_up.set(1)

    # ------------------------------------------------------------------ shutdown

    def _close_consumer(self, timeout: float) -> bool:
        """``consumer.close()`` (leave the group), given at most ``timeout`` seconds: without
        brokers it would wait for them."""
        consumer = self.consumer
        assert consumer is not None

        def close() -> None:
            try:
                consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("leaving the consumer group failed: %s", exc)

        thread = threading.Thread(target=close, name="blacklodge-close", daemon=True)
        thread.start()
        thread.join(timeout)
        return not thread.is_alive()

    def _shutdown(self) -> int:
        """Stop taking records, finish those in processing, flush, commit, leave the group."""
        consumer, producer = self.consumer, self.producer
        assert consumer is not None and producer is not None
        # The grace period is shared: records in processing get most of it, the flush and the
        # last commit the next part, leaving the group the rest.
        grace = self.settings.grace_period
        deadline = time.monotonic() + grace
        commit_deadline = deadline - min(1.0, 0.1 * grace)
        parts = list(self.parts.values())
        try:
            consumer.pause([TopicPartition(*part.tp) for part in parts])
        except KafkaException:
            pass
        self._stop_parts(parts)
        finished = self._wait_for(parts, deadline - min(2.0, 0.2 * grace))
        with self.lock:
            self.ready_parts.extend([None] * len(self.threads))
            self.work_available.notify_all()
        left = self._serve_acknowledgements(max(0.0, commit_deadline - time.monotonic()), flush=True)
        # The last commit: asynchronous, served by polling (paused: no records come) until
        # answered or out of time, so a broker outage cannot hold the process past the deadline.
        positions = self.tracker.commit_candidates()
        self._commit()
        while self.tracker.commit_candidates() and time.monotonic() < commit_deadline and not self.broker_down:
            consumer.poll(0.05)
        unanswered = self.tracker.commit_candidates()
        self.closing = True
        if not self._close_consumer(max(0.2, deadline - time.monotonic())):
            log.warning("leaving the consumer group did not finish in time (brokers unreachable?); the group drops this member when its session expires")
            self.exit_at_once = True
        summary = f"committed {_positions(positions)}" if positions and not unanswered else "nothing new to commit"
        if unanswered:
            summary = f"the last commit ({_positions(unanswered)}) was not confirmed; those records will be processed again"
        if not finished or left:
            summary += f"; {left} record(s) undelivered and records in processing abandoned at the deadline (not committed)"
        if self.failure is not None:
            log.critical(self.failure.message, extra=self.failure.fields)
            log.info("stopped: %s", summary)
            return self.failure.code
        log.info("stopped: %s", summary)
        return EXIT_OK


# --------------------------------------------------------------------------- helpers


def _request_id(headers: Headers) -> str:
    for name, value in headers:
        if name.lower() == REQUEST_ID and value:
            text = _text(value)
            if REQUEST_ID_RE.match(text):
                return text
    return new_request_id()


def _text(value: Union[str, bytes, None]) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def _pass_through(headers: Headers) -> Headers:
    return [(name, value) for name, value in headers if name.lower() not in _OWN_HEADERS]


def _provenance(topic: str, partition: int, offset: int, request_id: str) -> Headers:
    return [
        (SOURCE_TOPIC, topic.encode()),
        (SOURCE_PARTITION, str(partition).encode()),
        (SOURCE_OFFSET, str(offset).encode()),
        (REQUEST_ID, request_id.encode()),
    ]


#: Result types that are one record (checked before the slower ``isinstance(..., Iterator)``).
_SINGLE = frozenset({dict, list, tuple, str, bytes, bytearray, int, float, bool})


def _encode_all(result: Any) -> List[bytes]:
    """None -> no record; an iterator (a generator) -> one record per item; else one record."""
    if result is None:
        return []
    if type(result) in _SINGLE:
        return [_encode(result)]
    if isinstance(result, Iterator):
        try:
            items = [item for item in result if item is not None]
        except BadInput:
            raise
        except Exception as exc:  # noqa: BLE001 - raised by the handler's generator
            raise HandlerFailed(exc) from exc
        return [_encode(item) for item in items]
    return [_encode(result)]


def _encode(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return encode_json(value)


def _where(message: Message) -> str:
    return f"{message.topic()}/{message.partition()} offset {message.offset()}"


def _names(partitions: List[TopicPartition]) -> str:
    return ", ".join(f"{p.topic}/{p.partition}" for p in partitions)


def _positions(positions: Dict[TP, int]) -> str:
    return ", ".join(f"{t}/{p}@{o}" for (t, p), o in sorted(positions.items()))


def run_worker(settings: Settings) -> int:
    """``blacklodge worker``: consume until SIGTERM (exit 0) or a failure (see the EXIT_* codes)."""
    worker = Worker(settings, Handler(settings.entrypoint, settings.app_dir))
    code = worker.run()
    if worker.exit_at_once:
        # The clients' destructors would wait for the brokers too: end now, within the grace period.
        logging.shutdown()
        os._exit(code)
    return code


__all__ = ["Worker", "run_worker", "client_config", "consumer_config", "producer_config"]
