"""The consumer side of the Kafka worker: the poll loop on the polling thread, records handed to
their partition's queue, flow control, rebalances, client errors and outages, shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from blacklodge_harness.kafka_processing import ProcessingSide
from blacklodge_harness.kafka_records import (
    EXIT_KAFKA_FAILED,
    EXIT_OK,
    INLINE_BUDGET,
    INLINE_LIMIT,
    MAX_QUEUED,
    POLL_BATCH,
    TP,
    Failure,
    log,
    names,
    positions_text,
)
from blacklodge_harness.kafka_settings import client_config, consumer_config, producer_config
from blacklodge_harness.kafka_state import Partition


class ConsumerSide(ProcessingSide):
    """The group member: polls, dispatches, rebalances, shuts down."""

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
        with self.lock:
            self._start_poller()
        if self.inline:
            threading.Thread(target=self._watch_poller, name="blacklodge-poll-watch", daemon=True).start()
        # The main thread only waits (and takes the signals): the poll loop runs on a thread of
        # its own, which a call that runs long can leave behind (see _watch_poller).
        while not self.finished.wait(0.5):
            pass
        return self.exit_code

    def _start_poller(self) -> None:
        """Start a thread running the poll loop, from now on the only one polling (lock held)."""
        thread = threading.Thread(target=self._poll_loop, name="blacklodge-poll", daemon=True)
        self.poller = thread
        thread.start()

    def _watch_poller(self) -> None:
        """When a call on the polling thread has run for INLINE_LIMIT seconds, hand the poll loop
        to a new thread (rebalances, acknowledgements, commits and the liveness heartbeat go on);
        the old one finishes its call as a processing thread would, then ends."""
        while not self.finished.wait(INLINE_LIMIT / 5):
            since = self.inline_since
            if not since or time.monotonic() - since < INLINE_LIMIT:
                continue
            with self.lock:
                if self.inline_since != since or self.finished.is_set():
                    continue
                self.inline = False
                self.inline_since = 0.0
                log.info("a handler call on the polling thread runs long: the poll loop moves to a new thread, records go to the processing threads from now on")
                self._start_poller()
            return

    def _poll_loop(self) -> None:
        settings = self.settings
        consumer, producer = self.consumer, self.producer
        assert consumer is not None and producer is not None
        me = threading.current_thread()
        self.turn.inline = True
        next_commit = time.monotonic() + settings.kafka_commit_interval
        next_probe = 0.0
        try:
            while not self.stopping.is_set():
                self.heartbeat = now = time.monotonic()
                # While partitions are paused, come back soon: their queues drain fast and want resuming.
                paused = any(part.paused for part in self.parts.values())
                messages = consumer.consume(POLL_BATCH, 0.005 if paused else 0.1)
                if messages:
                    self._dispatch(messages)
                    if self.poller is not me:
                        return  # a call here ran long: another thread polls now
                self._serve_acknowledgements(0)
                self._flow_control()
                if now >= next_commit:
                    self._commit()
                    self._update_lag()
                    next_commit = now + settings.kafka_commit_interval
                if self.broker_down and now >= next_probe:
                    next_probe = now + 2.0
                    self._probe_brokers()
            self.exit_code = self._shutdown()
        except BaseException as exc:  # noqa: BLE001 - the worker must not hang without its poll loop
            log.exception("internal error in the poll loop")
            self._fail(Failure(EXIT_KAFKA_FAILED, f"internal error in the poll loop: {type(exc).__name__}: {exc}"))
            self.exit_code = EXIT_KAFKA_FAILED
        self.finished.set()

    # ------------------------------------------------------------------ polling thread: records in

    def _dispatch(self, messages: Sequence[Message]) -> None:
        """Hand each partition's records to its queue (the offsets to the tracker first, for
        every partition, before any is processed): to the processing threads, or to this thread
        while the handler is fast (:meth:`_process_inline`)."""
        inline = self.inline
        mine: list[Partition] = []
        by_partition: dict[TP, list[Message]] = {}
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
                break
            self.consumed.inc(len(batch), topic=tp[0])
            with self.lock:
                part.queue.extend(batch)
                if not part.busy:
                    part.busy = True
                    part.idle.clear()
                    if inline:
                        mine.append(part)  # held by this thread until processed here or handed to the processing threads
                    else:
                        self.ready_parts.append(part)
                        self.work_available.notify()
        if mine:
            self._process_inline(mine)

    def _process_inline(self, parts: list[Partition]) -> None:
        """Process the partitions' records on this (the polling) thread for at most
        INLINE_BUDGET seconds; what is left goes to the processing threads."""
        until = time.monotonic() + INLINE_BUDGET
        for index, part in enumerate(parts):
            if not self.inline or not self.turn.inline or time.monotonic() >= until or self.stopping.is_set():
                with self.lock:
                    for rest in parts[index:]:
                        self.ready_parts.append(rest)
                    self.work_available.notify_all()
                return
            with self.lock:
                self._start_turn(part, POLL_BATCH)
            self._take_turn(part, until)
            if self.poller is not threading.current_thread():
                self.turn.inline = False

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

    # ------------------------------------------------------------------ rebalances

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in ((p.topic, p.partition) for p in partitions):
            previous = self.parts.get(tp)
            if previous is not None:  # assigned again without a revocation: the old state is void
                self._stop_parts([previous])
            self.parts[tp] = Partition(tp, self.tracker.assign(tp))
        self.joined = True
        self.assigned_gauge.set(len(self.parts))
        if partitions:
            log.info("assigned %s (now %d partitions)", names(partitions), len(self.parts))

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
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
        log.info("revoked %s%s", names(partitions), "" if finished else " (records still in flight were abandoned: not committed)")

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The group moved on without us: nothing may be committed; work in flight is dropped."""
        tps = [(p.topic, p.partition) for p in partitions]
        self._stop_parts([self.parts[tp] for tp in tps if tp in self.parts])
        self._forget(tps)
        log.warning("lost %s (the session expired): their uncommitted records go to the new owner", names(partitions))

    def _wait_for(self, parts: list[Partition], deadline: float) -> bool:
        """Wait until the parts' records in processing are done and their records delivered
        (serving the delivery callbacks meanwhile)."""
        while time.monotonic() < deadline:
            if all(part.idle.is_set() and part.sent == part.delivered for part in parts):
                return True
            self._serve_acknowledgements(0.005)
        return False

    def _forget(self, tps: list[TP]) -> None:
        for tp in tps:
            self.tracker.revoke(tp)
            self.parts.pop(tp, None)
            self.commit_lag.set(0, topic=tp[0], partition=str(tp[1]))
            self.consumer_lag.set(0, topic=tp[0], partition=str(tp[1]))
        self.assigned_gauge.set(len(self.parts))

    # ------------------------------------------------------------------ errors and outages

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

    def _probe_brokers(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        try:
            metadata = consumer.list_topics(timeout=1.0)
        except KafkaException:
            return
        if metadata.brokers:
            self._brokers_back()

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
        summary = f"committed {positions_text(positions)}" if positions and not unanswered else "nothing new to commit"
        if unanswered:
            summary = f"the last commit ({positions_text(unanswered)}) was not confirmed; those records will be processed again"
        if not finished or left:
            summary += f"; {left} record(s) undelivered and records in processing abandoned at the deadline (not committed)"
        if self.failure is not None:
            log.critical(self.failure.message, extra=self.failure.fields)
            log.info("stopped: %s", summary)
            return self.failure.code
        log.info("stopped: %s", summary)
        return EXIT_OK


