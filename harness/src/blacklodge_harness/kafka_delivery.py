"""The delivery and commit side of the Kafka worker: the producer's acknowledgements (served
on the polling thread), the offsets they make committable, the batched and the rebalance
commits, and the lag gauges."""

from __future__ import annotations


from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from blacklodge_harness.kafka_records import EXIT_KAFKA_FAILED, TP, Failure, log, positions_text
from blacklodge_harness.kafka_state import Partition, WorkerState


class Delivery:
    """The delivery callback of the records one input led to: the last acknowledgement
    acknowledges the input offset."""

    __slots__ = ("worker", "part", "offset", "remaining", "topic", "dead_letter")

    def __init__(self, worker: DeliverySide, part: Partition, offset: int, remaining: int, topic: str, dead_letter: bool = False) -> None:
        self.worker = worker
        self.part = part
        self.offset = offset
        self.remaining = remaining
        self.topic = topic
        self.dead_letter = dead_letter

    def __call__(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self.worker.delivered(self, error)
            return
        # The common case without a call to the worker (one frame less per record).
        worker = self.worker
        counts = worker.produced_counts
        counts[self.topic] = counts.get(self.topic, 0) + 1
        self.remaining -= 1
        if self.remaining == 0:
            worker.acknowledged.append(self)  # to the tracker once the poll returns, in one go


class DeliverySide(WorkerState):
    """Acknowledgements in, commits out."""

    # ------------------------------------------------------------------ acknowledgements (polling thread)

    def _serve_acknowledgements(self, timeout: float, *, flush: bool = False) -> int:
        """Serve the producer's delivery callbacks (on the polling thread only) and count them;
        with ``flush``, until every record is acknowledged or ``timeout`` passed (returns
        how many are left)."""
        producer = self.producer
        assert producer is not None
        left = producer.flush(timeout) if flush else producer.poll(timeout)
        acknowledged = self.acknowledged
        if acknowledged:
            self.tracker.acked_many([(d.part.tp, d.part.epoch, d.offset) for d in acknowledged])
            for delivery in acknowledged:
                delivery.part.delivered += 1
            acknowledged.clear()
        counts = self.produced_counts
        if counts:
            with self.registry.lock:
                for topic, count in counts.items():
                    self.produced.inc_locked((topic,), count)
            counts.clear()
        return left

    def delivered(self, delivery: Delivery, error: KafkaError | None) -> None:
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
        counts = self.produced_counts
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

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if error is not None:
            self.commits.inc(outcome="error")
            self._log_throttled(error.code(), "committing offsets failed: %s (retried at the next commit)", error.str())
            return
        self.commits.inc(outcome="ok")
        if self.broker_down:
            self._brokers_back()
        self.tracker.mark_committed({(p.topic, p.partition): p.offset for p in partitions if p.error is None and p.offset >= 0})

    def _commit_now(self, positions: dict[TP, int], why: str) -> None:
        """A synchronous commit (rebalance): the partitions change owner right after."""
        if not positions or self.consumer is None:
            return
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=False)
            self.commits.inc(outcome="ok")
            log.info("committed %s (%s)", positions_text(positions), why)
        except KafkaException as exc:
            self.commits.inc(outcome="error")
            log.warning("committing %s failed (%s): %s; the next owner processes them again", positions_text(positions), why, exc.args[0])

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

