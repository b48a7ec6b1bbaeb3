"""Per-partition processing of the Kafka worker: the processing threads, the handler call with
its retries and deadline, the output and dead-letter records handed to the producer."""

from __future__ import annotations

import json
import threading
import time
from bisect import bisect_left
from typing import Any, cast
from collections.abc import Callable

from confluent_kafka import KafkaException, Message

from blacklodge_harness import logs
from blacklodge_harness.core import (
    Context,
    HandlerFailed,
    HandlerReportedError,
    NotReady,
    ENCODING_ERRORS,
    PLAIN_RESULTS,
    ResultNotSerializable,
    json_text,
    new_request_id,
    not_serializable,
)
from blacklodge_harness.errors import BadInput
from blacklodge_harness.kafka_delivery import Delivery, DeliverySide
from blacklodge_harness.kafka_records import (
    ERROR_MESSAGE,
    ERROR_TYPE,
    EXIT_KAFKA_FAILED,
    EXIT_MESSAGE_FAILED,
    INLINE_LIMIT,
    INLINE_SLOW,
    MAX_BACKOFF,
    MAX_ERROR_MESSAGE,
    OWN_HEADERS,
    REQUEST_ID,
    SOURCE_OFFSET,
    TURN_BATCH,
    Failure,
    Headers,
    Overran,
    Permanent,
    encode_all,
    header_text,
    log,
    pass_through,
    provenance,
    where,
)
from blacklodge_harness.pipeline import REQUEST_ID_RE

_json_decode = json.JSONDecoder().decode
from blacklodge_harness.kafka_state import Call, Partition, Turn


class ProcessingSide(DeliverySide):
    """Records of a partition through the handler, one after the other."""

    # ------------------------------------------------------------------ processing threads

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._process_loop, name="blacklodge-kafka", daemon=True)

    def _process_loop(self) -> None:
        lock = self.lock
        while True:
            with lock:
                while not self.ready_parts:
                    self.work_available.wait()
                part = self.ready_parts.popleft()
                if part is not None:
                    self._start_turn(part, TURN_BATCH)
            if part is None:
                return
            if not self._take_turn(part):
                return  # the deadline thread handed the partition to a new thread: this one is done

    def _start_turn(self, part: Partition, limit: int) -> None:
        """Move up to ``limit`` queued records of ``part`` into this thread's turn (lock held)."""
        if not part.stopped:
            queue, rest = part.queue, self.turn.rest
            rest.extend(queue.popleft() for _ in range(min(limit, len(queue))))

    def _take_turn(self, part: Partition, until: float = 0.0) -> bool:
        """Process this thread's turn of ``part`` in order, then give the partition back: queued
        again when records wait, else idle. ``until`` (on the polling thread): stop at this
        time, when the handler turns out slow or when the poll loop moved to another thread,
        and leave the rest to the processing threads.

        Returns False when the deadline thread took the partition over (with the rest of the turn).
        """
        turn = self.turn
        rest = turn.rest
        # The log context of the turn: bound once, the offset and request id set per record.
        live = logs.LiveFields(topic=part.tp[0], partition=part.tp[1], offset=None)
        token = logs.set_fields(live)
        direct = self.handler.direct()
        try:
            while rest and not part.stopped:
                message = rest.popleft()
                try:
                    self._process(part, message, live, direct)
                except Overran:
                    # The deadline thread handed the partition (and the rest of this turn) to a new thread.
                    self._flush_turn_metrics(turn)
                    return False
                except Exception as exc:  # noqa: BLE001 - stops the worker; nothing is committed past this record
                    if not isinstance(exc, Failure):
                        log.exception("internal error while processing a record")
                        exc = Failure(EXIT_KAFKA_FAILED, f"internal error while processing {where(message)}: {type(exc).__name__}: {exc}")
                    self._stop_parts([part])  # the records after it are not processed either
                    self._fail(exc)
                    break
                if until and (time.monotonic() >= until or not self.inline or not turn.inline or self.stopping.is_set()):
                    break
        finally:
            logs.reset_fields(token)
        self._flush_turn_metrics(turn)
        with self.lock:
            if rest and not part.stopped:
                part.queue.extendleft(reversed(rest))
            rest.clear()
            if part.queue and not part.stopped:
                self.ready_parts.append(part)
                self.work_available.notify()
            else:
                part.busy = False
                part.idle.set()
        return True

    def _process(self, part: Partition, message: Message, live: logs.LiveFields, direct: Callable[[Any], Any] | None) -> None:
        """One record, the common case flat: decoded, one call that returns, its results sent.
        Anything else (a record to retry, a context argument, a failure) goes to :meth:`_process_slow`."""
        offset = message.offset() or 0
        headers = cast("Headers | None", message.headers())  # a string: no typing subscript per record
        # The input's headers minus the worker's own, and its request id, in one pass.
        kept: Headers = []
        request_id = None
        if headers:
            for header in headers:
                name = header[0].lower()
                if name in OWN_HEADERS:
                    if request_id is None and name == REQUEST_ID and header[1]:
                        candidate = header_text(header[1])
                        if REQUEST_ID_RE.match(candidate):
                            request_id = candidate
                else:
                    kept.append(header)
        if request_id is None:
            request_id = new_request_id()
        live["offset"] = offset
        live.request_id = request_id
        if part.retry is not None or self.handler.wants_context:
            self._process_slow(part, message, headers or [], request_id, kept)
            return
        value = message.value()
        if self.json_values and value is not None:
            try:
                try:
                    # UTF-8 straight to the decoder (json.loads first detects the encoding in
                    # Python); what fails here gets json.loads' own answer (UTF-16/32 texts,
                    # a byte order mark: their NULs or BOM never parse as UTF-8 JSON).
                    payload = _json_decode(value.decode("utf-8"))
                except ValueError:
                    payload = json.loads(value)
            except ValueError:
                self._process_slow(part, message, headers or [], request_id, kept)
                return
        else:
            payload = value
        # The call, watched by the deadline thread (as in _invoke).
        timeout = self.settings.timeout
        turn = self.turn
        call = None
        started = time.monotonic()
        if timeout > 0:
            call = Call(started + timeout, part, message, 1, turn.rest)
            self.calls[id(call)] = call
        inline = turn.inline
        if inline:
            self.inline_since = started
        failed: BaseException | None = None
        if direct is not None:
            # Handler.call without its frame (see Handler.direct).
            try:
                result = direct(payload)
                if type(result) not in PLAIN_RESULTS:
                    result = self.handler.finish(result)
            except (BadInput, HandlerFailed, HandlerReportedError) as exc:
                failed = exc
            except Exception as exc:  # noqa: BLE001 - a handler failure: the slow path retries it
                failed = HandlerFailed(exc)
                failed.__cause__ = exc
        else:
            try:
                result = self.handler.call(payload, None)
            except Exception as exc:  # noqa: BLE001 - the slow path sorts it out (retry, dead letter, stop)
                failed = exc
        duration = self._call_ended(call, inline, started, "ok" if failed is None else "error")
        if failed is not None:
            outcome = "bad_input" if isinstance(failed, BadInput) else "error"
            turn.outcomes[outcome] = turn.outcomes.get(outcome, 0) + 1
            turn.durations.append(duration)
            self._process_slow(part, message, headers or [], request_id, kept, payload=payload, first=failed)
            return
        turn.ok += 1
        turn.durations.append(duration)
        output = self.settings.kafka_output_topic
        if type(result) is dict and output is not None:
            try:
                encoded = json_text(result).encode("utf-8")  # encode_json without its frame
            except ENCODING_ERRORS as exc:
                problem = Permanent("result_not_serializable", str(not_serializable(exc)))
                self._process_slow(part, message, headers or [], request_id, kept, problem=problem)
                return
            kept.extend(part.source)
            kept.append((SOURCE_OFFSET, str(offset).encode()))
            kept.append((REQUEST_ID, request_id.encode()))
            delivery = Delivery(self, part, offset, 1, output)
            part.sent += 1
            try:
                try:
                    self.producer.produce(output, value=encoded, key=message.key(), headers=kept, on_delivery=delivery)  # type: ignore[union-attr] # an output topic implies a producer
                except BufferError:
                    self._produce(output, encoded, message.key(), kept, delivery)
            except KafkaException as exc:
                delivery.remaining = -(1 << 30)
                part.sent -= 1
                self._dead_letter(part, message, headers or [], request_id, Permanent("output_rejected", f"the output record was refused: {exc.args[0]}"))
            return
        try:
            values = encode_all(result)
        except ResultNotSerializable as exc:
            self._process_slow(part, message, headers or [], request_id, kept, problem=Permanent("result_not_serializable", str(exc)))
            return
        except (HandlerFailed, BadInput) as exc:  # raised by the handler's generator
            self._process_slow(part, message, headers or [], request_id, kept, payload=payload, first=exc)
            return
        self._send(part, message, headers or [], request_id, kept, values)

    def _overran(self, outcome: str) -> None:
        """The deadline thread took over the call that just returned: this thread ends here,
        the result is dropped."""
        with self.lock:
            self.overrunning -= 1
        self.handler_metrics.abandoned.dec()
        log.warning("a call that overran its deadline has finished (%s); its result is discarded", outcome)
        raise Overran()

    def _process_slow(
        self,
        part: Partition,
        message: Message,
        headers: Headers,
        request_id: str,
        kept: Headers,
        *,
        payload: Any = None,
        first: BaseException | None = None,
        problem: Permanent | None = None,
    ) -> None:
        """A record off the common path: decoded here unless ``payload`` is given; ``first``
        is what the first call raised (this is then the second attempt); ``problem`` a result
        that cannot be sent."""
        try:
            if problem is not None:
                raise problem
            if first is None:
                payload = self._decode(message.value())
            values = self._call_with_retries(part, message, payload, headers, request_id, first)
        except Permanent as permanent:
            self._dead_letter(part, message, headers, request_id, permanent)
            return
        if values is None:
            return  # abandoned (stopping or revoked): not acknowledged, so not committed
        self._send(part, message, headers, request_id, kept, values)

    def _send(self, part: Partition, message: Message, headers: Headers, request_id: str, kept: Headers, values: list[bytes]) -> None:
        offset = message.offset() or 0
        output = self.settings.kafka_output_topic
        if output is None or not values:
            self.tracker.acked(part.tp, part.epoch, offset)
            return
        out_headers = kept + provenance(part.source, offset, request_id)
        delivery = Delivery(self, part, offset, len(values), output)
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

    def _decode(self, value: bytes | None) -> Any:
        if self.settings.kafka_value_format == "bytes" or value is None:
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            raise Permanent("invalid_json", f"the record value is not valid JSON: {exc}") from None

    def _call_with_retries(
        self, part: Partition, message: Message, payload: Any, headers: Headers, request_id: str, first: BaseException | None = None
    ) -> list[bytes] | None:
        """The encoded results, or None when the record was abandoned (worker stopping).
        ``first``: what the first attempt raised, when it was made already."""
        settings = self.settings
        context = self._context(message, headers, request_id) if self.handler.wants_context else None
        offset = message.offset() or 0
        attempt, failed = 0, None
        if part.retry is not None and part.retry[0] == offset:  # its last call overran on another thread
            attempt, failed = part.retry[1], (part.retry[2], part.retry[3])
        part.retry = None
        if first is not None:
            attempt, failed = 1, self._failed(first, 1)
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
            except (BadInput, ResultNotSerializable, HandlerFailed, HandlerReportedError, NotReady) as exc:
                failed = self._failed(exc, attempt)

    def _failed(self, exc: BaseException, attempt: int) -> tuple[str, str]:
        """(error type, message) of a failed attempt to retry; raises :class:`Permanent` for what
        no retry can fix, and anything that is not a handler's failure again."""
        if isinstance(exc, BadInput):
            raise Permanent("bad_input", exc.message) from None
        if isinstance(exc, ResultNotSerializable):
            raise Permanent("result_not_serializable", str(exc)) from None
        if not isinstance(exc, (HandlerFailed, HandlerReportedError, NotReady)):
            raise exc
        if attempt > self.settings.kafka_max_retries and isinstance(exc, HandlerFailed):
            log.error("the handler failed on attempt %d of %d", attempt, attempt, exc_info=exc.exc)
        return ("handler_error", str(exc))

    def _invoke(self, part: Partition, message: Message, payload: Any, context: Context | None, attempt: int) -> list[bytes]:
        """Call the handler on this thread (watched by the deadline thread) and encode the results.

        Raises what the call raised, or :class:`Overran` when it returned after its deadline.
        """
        timeout = self.settings.timeout
        turn = self.turn
        started = time.monotonic()
        call = None
        if timeout > 0:
            call = Call(started + timeout, part, message, attempt, turn.rest)
            self.calls[id(call)] = call
        inline = turn.inline
        if inline:
            self.inline_since = started
        outcome = "error"
        try:
            result = self.handler.call(payload, context)
            outcome = "ok"
            return encode_all(result)
        except BadInput:
            outcome = "bad_input"
            raise
        finally:
            duration = self._call_ended(call, inline, started, outcome)
            turn.outcomes[outcome] = turn.outcomes.get(outcome, 0) + 1
            turn.durations.append(duration)

    def _call_ended(self, call: Call | None, inline: bool, started: float, outcome: str) -> float:
        """The bookkeeping after every handler call, fast path and slow: the running average
        of inline calls (too slow → processing threads from now on) and the deadline thread's
        watch (a call it had already given up on has overrun). Returns the call's duration."""
        duration = time.monotonic() - started
        if inline:
            self.inline_since = 0.0
            average = self.inline_average = self.inline_average * 0.95 + duration * 0.05
            if average > INLINE_SLOW or duration > INLINE_LIMIT:
                self._inline_slow(duration, average)
        if call is not None and self.calls.pop(id(call), None) is None:
            self._overran(outcome)
        return duration

    def _inline_slow(self, duration: float, average: float) -> None:
        """The handler is slow: it is called on the processing threads from now on (its calls
        on the polling thread would hold up the poll loop)."""
        if self.inline:
            self.inline = False
            log.info(
                "the handler's calls take %.1f ms (%.1f ms on average): records are processed on %d processing thread(s) from now on",
                duration * 1000,
                average * 1000,
                len(self.threads),
            )

    def _flush_turn_metrics(self, turn: Turn) -> None:
        metrics = self.handler_metrics
        with self.registry.lock:
            if turn.ok:
                metrics.calls.inc_locked(("ok",), turn.ok)
                turn.ok = 0
            for outcome, count in turn.outcomes.items():
                metrics.calls.inc_locked((outcome,), count)
            durations = turn.durations
            if durations:
                histogram = metrics.duration
                buckets, entry = histogram.buckets, histogram.entry_locked()
                for duration in durations:  # observe_locked, without a call per record
                    entry[bisect_left(buckets, duration)] += 1
                entry[-1] += sum(durations)
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

    def _take_over(self, call: Call) -> None:
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
            headers={name: header_text(value) for name, value in headers},
            metadata={
                "topic": message.topic(),
                "partition": message.partition(),
                "offset": message.offset(),
                "key": message.key(),
                "timestamp_ms": timestamp if timestamp_type else None,
            },
        )

    def _dead_letter(
        self, part: Partition, message: Message, headers: Headers, request_id: str, problem: Permanent
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
            pass_through(headers)
            + provenance(part.source, offset, request_id)
            + [(ERROR_TYPE, problem.error_type.encode()), (ERROR_MESSAGE, problem.message[:MAX_ERROR_MESSAGE].encode("utf-8", "replace"))]
        )
        part.sent += 1
        try:
            self._produce(dlq, message.value(), message.key(), dlq_headers, Delivery(self, part, offset, 1, dlq, dead_letter=True))
        except KafkaException as exc:
            raise Failure(
                EXIT_KAFKA_FAILED,
                f"the dead-letter record for {topic}/{partition} offset {offset} was refused by the producer: {exc.args[0]}",
            ) from None

    def _produce(self, topic: str, value: bytes | None, key: bytes | None, headers: Headers, delivery: Delivery) -> None:
        producer = self.producer
        assert producer is not None
        try:
            producer.produce(topic, value=value, key=key, headers=headers, on_delivery=delivery)
            return
        except BufferError:
            pass
        # The producer's queue is full (the brokers are away) until the polling thread serves
        # acknowledgements. On the polling thread itself this wait counts as a long call: the
        # poll watcher moves the poll loop to a new thread, which serves them.
        waiting = self.turn.inline and self.inline
        if waiting:
            self.inline_since = time.monotonic()
        try:
            while True:
                try:
                    producer.produce(topic, value=value, key=key, headers=headers, on_delivery=delivery)
                    return
                except BufferError:
                    time.sleep(0.005)
        finally:
            if waiting:
                self.inline_since = 0.0

