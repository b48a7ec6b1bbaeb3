"""Kafka mode: ``blacklodge worker``, the handler as a member of a consumer group.

Delivery guarantee: at least once, nothing lost. Offsets are never committed automatically;
an input offset is committed only when everything it led to (its output records, or its
dead-letter record) was acknowledged by the broker, and every earlier offset of its partition
too (:mod:`blacklodge_harness.offsets`). The producer is idempotent with ``acks=all``.

Threads:

* the **main thread** creates the clients, then only waits (and takes SIGTERM/SIGINT);
* the **polling thread** polls the consumer (rebalance callbacks run there, between
  batches), hands each partition's records to its queue, pauses partitions whose queue is
  full, serves the **producer's delivery callbacks** (which acknowledge offsets) and commits
  the committable positions every ``BLACKLODGE_KAFKA_COMMIT_INTERVAL`` seconds
  (asynchronously, one request for all partitions); at the end it runs the shutdown;
* **while the handler is fast** the polling thread processes the records of a poll itself,
  for at most ``INLINE_BUDGET`` (0.1 s) per poll, leaving the rest to the processing
  threads. Fast handlers gain nothing from threads under one interpreter lock, and each
  hand-over of a record between threads costs more than the call (bench/results/kafka.md).
  Calls averaging over ``INLINE_SLOW`` (2 ms) switch this off for good. A call running
  ``INLINE_LIMIT`` (0.5 s) on the polling thread makes the **poll watcher** start a new
  polling thread (so rebalances, acknowledgements, commits, ``max.poll.interval.ms`` and the
  liveness heartbeat never wait for a handler longer than that); the old thread finishes
  its call and its partition's turn like a processing thread, then ends;
* ``BLACKLODGE_KAFKA_CONCURRENCY`` **processing threads** take partitions with queued records
  and process a partition's records one after the other (order is kept within a partition;
  a partition is never on two threads at once), calling the handler themselves;
* with ``BLACKLODGE_TIMEOUT``, a **deadline thread** (asleep unless a call overruns): a call
  still running at its deadline counts as a failed attempt; its thread is left to finish it
  in the background (the result is discarded) and a new thread takes over the partition;
* the **admin server** answers probes, metrics and the info endpoint.

A record whose value cannot be decoded, that the handler rejects (``BadInput``), whose
result cannot be encoded, or whose handler call still fails after the retries goes to the
dead-letter topic; without one the worker stops without committing it and exits 1.

The parts, one module each, layered (each builds on the one before):

* :mod:`~blacklodge_harness.kafka_settings`: the settings as librdkafka configuration;
* :mod:`~blacklodge_harness.kafka_records`: exit codes, header names, limits, per-record helpers;
* :mod:`~blacklodge_harness.kafka_state`: the shared state (partitions, metrics, lock, stop signal);
* :mod:`~blacklodge_harness.kafka_delivery`: acknowledgements, commits, lag;
* :mod:`~blacklodge_harness.kafka_processing`: processing threads, handler calls, retries, deadlines,
  dead letters;
* :mod:`~blacklodge_harness.kafka_consumer`: the poll loop, rebalances, outages, shutdown;
* this module: the mode's entry, :class:`Worker` (probes, info, signals) and :func:`run_worker`.
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import time
from datetime import datetime, timezone
from types import FrameType
from typing import Any

from blacklodge_harness import __version__
from blacklodge_harness.admin import AdminServer
from blacklodge_harness.config import Settings
from blacklodge_harness.core import Handler
from blacklodge_harness.errors import HarnessError
from blacklodge_harness.kafka_consumer import ConsumerSide
from blacklodge_harness.kafka_records import EXIT_ADMIN_PORT, EXIT_LOAD_FAILED, EXIT_OK, STALL_AFTER, log
from blacklodge_harness.kafka_settings import client_config, consumer_config, producer_config


class Worker(ConsumerSide):
    """The consumer group member. :meth:`run` returns the process's exit code."""

    def __init__(self, settings: Settings, handler: Handler) -> None:
        super().__init__(settings, handler)
        self.threads = [self._new_thread() for _ in range(settings.kafka_concurrency)]

    # ------------------------------------------------------------------ probes

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        stalled = time.monotonic() - self.heartbeat
        if stalled > STALL_AFTER:
            return False, {"reason": f"the poll loop has not turned for {stalled:.0f} s"}
        if self.overrunning >= 2 * self.settings.kafka_concurrency:
            return False, {"reason": f"{self.overrunning} handler calls overran their timeout and still run"}
        return True, {}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
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

    def info(self) -> dict[str, Any]:
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

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping.is_set():
            log.info("received %s: stopping (finishing in-flight records, then committing)", signal.Signals(signum).name)
        self.stopping.set()


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
