"""Helpers of the Kafka worker tests: a real broker, topics, records, and the worker as a
subprocess (``python -m blacklodge_harness worker``).

The broker is the bench's (``BLACKLODGE_KAFKA_BOOTSTRAP``, which ``harness/scripts/test.sh``
sets after starting it with ``bench/kafka start``); tests that crash a broker start their
own with ``bench/kafka start --port N --data DIR``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import APPS

REPO = Path(__file__).resolve().parents[2]
BENCH_KAFKA = REPO / "bench" / "kafka"

Record = Dict[str, Any]


def bootstrap_or_fail() -> str:
    bootstrap = os.environ.get("BLACKLODGE_KAFKA_BOOTSTRAP", "").strip()
    if not bootstrap:
        pytest.fail(
            "BLACKLODGE_KAFKA_BOOTSTRAP is not set: the Kafka worker tests need the bench's broker. "
            "Run them through harness/scripts/test.sh (it starts the broker with bench/kafka start), "
            "or start one yourself and set BLACKLODGE_KAFKA_BOOTSTRAP=host:port."
        )
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        admin.list_topics(timeout=15)
    except KafkaException as exc:
        pytest.fail(f"no Kafka broker answers at BLACKLODGE_KAFKA_BOOTSTRAP={bootstrap} ({exc}); start it with bench/kafka start")
    return bootstrap


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- topics and records


def create_topics(bootstrap: str, *topics: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    for future in admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics], operation_timeout=30).values():
        future.result()
    deadline = time.monotonic() + 30
    for topic in topics:
        while True:
            info = admin.list_topics(topic, timeout=10).topics.get(topic)
            if info is not None and info.error is None and len(info.partitions) == partitions and all(p.leader >= 0 for p in info.partitions.values()):
                break
            assert time.monotonic() < deadline, f"topic {topic} has no leaders"
            time.sleep(0.1)


def produce(bootstrap: str, topic: str, records: Iterable[Tuple[Any, Optional[str], Dict[str, str], Optional[int]]]) -> int:
    """(value, key, headers, partition) records; a value that is not bytes is sent as JSON."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5, "log_level": 0})
    failures: List[str] = []
    count = 0
    for value, key, headers, partition in records:
        data = value if isinstance(value, bytes) or value is None else json.dumps(value).encode()
        extra: Dict[str, Any] = {} if partition is None else {"partition": partition}
        producer.produce(
            topic, value=data, key=key, headers=list(headers.items()) or None, on_delivery=lambda err, _m: err and failures.append(str(err)), **extra
        )
        producer.poll(0)
        count += 1
    assert producer.flush(30) == 0 and not failures, failures
    return count


def produce_numbered(bootstrap: str, topic: str, count: int, *, start: int = 0, partition: Optional[int] = None) -> List[int]:
    numbers = list(range(start, start + count))
    produce(bootstrap, topic, (({"i": i}, f"key-{i}", {"trace": f"t{i}"}, partition) for i in numbers))
    return numbers


def read_topic(bootstrap: str, topic: str) -> List[Record]:
    """Every record in the topic now (up to each partition's high watermark)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    partitions = sorted(admin.list_topics(topic, timeout=10).topics[topic].partitions)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("reader"), "enable.auto.commit": False, "log_level": 0})
    try:
        highs = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        wanted = {p for p, high in highs.items() if high > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
        records: List[Record] = []
        deadline = time.monotonic() + 60
        while wanted:
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            raw = message.value()
            try:
                value = json.loads(raw) if raw is not None else None
            except ValueError:
                value = None
            records.append(
                {
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "key": message.key().decode() if message.key() is not None else None,
                    "headers": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (message.headers() or [])},
                    "value": value,
                    "raw": raw,
                }
            )
            if message.offset() + 1 >= highs[message.partition()]:
                wanted.discard(message.partition())
        return records
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str) -> Dict[int, Optional[int]]:
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    partitions = sorted(admin.list_topics(topic, timeout=10).topics[topic].partitions)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        result = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=30)
    finally:
        consumer.close()
    return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in result}


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 60.0, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------- the worker


class WorkerProcess:
    """``blacklodge worker`` in a subprocess; its log lines are kept in a file."""

    def __init__(self, log_path: Path, env: Dict[str, str]) -> None:
        self.admin_port = int(env["BLACKLODGE_ADMIN_PORT"])
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "blacklodge_harness", "worker"], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def get(self, path: str) -> Tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError as exc:
            return 0, str(exc)

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, f"the worker exited with {self.process.returncode}:\n{self.output()}"
            return self.get("/readyz")[0] == 200

        wait_for("the worker to be ready", ready, timeout)

    def metric(self, name: str) -> float:
        """The sum of a metric's samples (0 when absent)."""
        _, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def terminate(self, timeout: float = 40.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the worker did not exit within {timeout:g} s:\n{self.output()}") from None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def logs(self) -> List[Dict[str, Any]]:
        lines = []
        for line in self.output().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"message": line, "unparsed": True})
        return lines

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


def worker_env(bootstrap: str, entrypoint: str, **variables: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLACKLODGE_")}
    env.update(
        {
            "BLACKLODGE_ENTRYPOINT": entrypoint,
            "BLACKLODGE_APP_DIR": str(APPS),
            "BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "BLACKLODGE_HOST": "127.0.0.1",
            "BLACKLODGE_ADMIN_PORT": str(free_port()),
            # Short sessions: a killed worker's partitions move to its successor within seconds.
            "BLACKLODGE_KAFKA_SESSION_TIMEOUT": "6",
            "BLACKLODGE_KAFKA_RETRY_BACKOFF": "0.05",
            "BLACKLODGE_KAFKA_COMMIT_INTERVAL": "0.2",
        }
    )
    env.update(variables)
    return env


def outputs_by_i(records: List[Record]) -> Dict[int, int]:
    counts: Dict[int, int] = {}
    for record in records:
        i = record["value"]["i"]
        counts[i] = counts.get(i, 0) + 1
    return counts


def bench_kafka(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BENCH_KAFKA), *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"bench/kafka {' '.join(args)} failed:\n{result.stderr}"
    return result
