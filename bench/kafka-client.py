"""A small Kafka client for the bench's tests and benchmarks (confluent-kafka).

Run it through ``bench/kafka client SUBCOMMAND ...`` (that uses the hash-pinned client venv).
Every subcommand takes ``--bootstrap HOST:PORT`` (default: $BLACKLODGE_KAFKA_BOOTSTRAP, else
127.0.0.1:19092). Errors go to stderr with a non-zero exit; results are JSON on stdout.

  ping [--timeout S]
      exit 0 once the broker answers a metadata request (1 after S seconds, default 10)
  create-topics TOPIC... [--partitions N]
      create the topics (N partitions each, default 1); existing topics are an error unless
      --if-not-exists. Prints {"topic": ..., "partitions": N} per topic.
  delete-topics TOPIC...
  produce TOPIC --count N [--start I] [--raw] [--key-prefix K] [--header NAME=VALUE]... [--partition P] [--size BYTES]
      produce N generated messages i = I .. I+N-1 (acks=all, idempotent; exit 1 if any fails):
      value {"i": i} as JSON (with --size: plus a "pad" string to about BYTES), or the raw text
      "message i" with --raw; key K+i (default "key-"), the given headers on every message,
      round-robin over partitions by key hash unless --partition. Prints {"produced": N}.
  produce TOPIC --stdin
      one message per JSON line on stdin: {"value": <any JSON>} (sent JSON-encoded) or
      {"raw": "text"} or {"raw_b64": "..."}; optional "key" (string), "headers" ({name: string}),
      "partition" (int).
  consume TOPIC [--expect N] [--idle S] [--timeout S]
      read the topic from the beginning of every partition (no group, nothing committed) and
      print one JSON line per message: {"topic", "partition", "offset", "key", "headers",
      "value" (parsed JSON, else null), "text" (UTF-8, else null), "b64"}. Stops once N
      messages were read (--expect), or when every partition is at its end and nothing came
      for S seconds (--idle, default 2); exit 1 if --timeout S (default 120) passes first
      with --expect unmet.
  offsets GROUP [TOPIC...]
      the group's committed offsets: {"topic", "partition", "offset"} per partition
      (offset null when nothing is committed); for TOPIC... every partition is listed.
  watermarks TOPIC
      {"partition", "low", "high"} per partition.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import uuid
from typing import Any, Dict, List, NoReturn, Optional, Tuple

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

DEFAULT_BOOTSTRAP = os.environ.get("BLACKLODGE_KAFKA_BOOTSTRAP") or "127.0.0.1:19092"


def fail(message: str) -> NoReturn:
    print(f"kafka-client: {message}", file=sys.stderr)
    sys.exit(1)


def emit(obj: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")


def quiet_logger() -> Dict[str, Any]:
    # librdkafka logs connection refusals while a broker starts; ping and tests expect them.
    return {"log_level": 0 if os.environ.get("KAFKA_CLIENT_DEBUG") is None else 7}


def topic_partitions(admin: AdminClient, topic: str, timeout: float = 10.0) -> List[int]:
    metadata = admin.list_topics(topic, timeout=timeout)
    info = metadata.topics.get(topic)
    if info is None or info.error is not None:
        fail(f"topic {topic!r} does not exist ({info.error if info else 'not in metadata'})")
    return sorted(info.partitions)


# ------------------------------------------------------------------------ subcommands


def cmd_ping(args: argparse.Namespace) -> None:
    admin = AdminClient({"bootstrap.servers": args.bootstrap, **quiet_logger()})
    deadline = time.monotonic() + args.timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            metadata = admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            if metadata.brokers:
                emit({"brokers": len(metadata.brokers), "cluster_id": metadata.cluster_id})
                return
        except KafkaException as exc:
            last = str(exc)
        time.sleep(0.2)
    fail(f"no broker answered at {args.bootstrap} within {args.timeout:g} s ({last})")


def cmd_create_topics(args: argparse.Namespace) -> None:
    admin = AdminClient({"bootstrap.servers": args.bootstrap, **quiet_logger()})
    futures = admin.create_topics([NewTopic(t, num_partitions=args.partitions, replication_factor=1) for t in args.topics], operation_timeout=30)
    for topic, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            error = exc.args[0]
            if not (args.if_not_exists and error.name() == "TOPIC_ALREADY_EXISTS"):
                fail(f"creating topic {topic!r} failed: {error}")
    # Wait until the metadata shows every partition (creation is asynchronous on the broker).
    for topic in args.topics:
        deadline = time.monotonic() + 30
        while True:
            metadata = admin.list_topics(topic, timeout=10)
            info = metadata.topics.get(topic)
            if info is not None and info.error is None and info.partitions and all(p.leader >= 0 for p in info.partitions.values()):
                emit({"topic": topic, "partitions": len(info.partitions)})
                break
            if time.monotonic() > deadline:
                fail(f"topic {topic!r} has no leader for every partition after 30 s")
            time.sleep(0.1)


def cmd_delete_topics(args: argparse.Namespace) -> None:
    admin = AdminClient({"bootstrap.servers": args.bootstrap, **quiet_logger()})
    for topic, future in admin.delete_topics(args.topics, operation_timeout=30).items():
        try:
            future.result()
        except KafkaException as exc:
            fail(f"deleting topic {topic!r} failed: {exc.args[0]}")
        emit({"deleted": topic})


def _generated(args: argparse.Namespace) -> List[Tuple[Optional[bytes], Optional[str], List[Tuple[str, bytes]], Optional[int]]]:
    headers: List[Tuple[str, bytes]] = []
    for item in args.header:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--header {item!r}: expected NAME=VALUE")
        headers.append((name, value.encode()))
    messages = []
    for i in range(args.start, args.start + args.count):
        if args.raw:
            value = f"message {i}".encode()
        else:
            body: Dict[str, Any] = {"i": i}
            if args.size:
                body["pad"] = "x" * max(0, args.size - 20)
            value = json.dumps(body).encode()
        messages.append((value, f"{args.key_prefix}{i}", headers, args.partition))
    return messages


def _from_stdin() -> List[Tuple[Optional[bytes], Optional[str], List[Tuple[str, bytes]], Optional[int]]]:
    messages = []
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"stdin line {number}: not JSON ({exc})")
        if "raw_b64" in item:
            value: Optional[bytes] = base64.b64decode(item["raw_b64"])
        elif "raw" in item:
            value = item["raw"].encode()
        elif "value" in item:
            value = json.dumps(item["value"]).encode()
        else:
            value = None
        headers = [(str(k), str(v).encode()) for k, v in (item.get("headers") or {}).items()]
        messages.append((value, item.get("key"), headers, item.get("partition")))
    return messages


def cmd_produce(args: argparse.Namespace) -> None:
    if args.stdin == (args.count is not None):
        fail("produce needs exactly one of --count N or --stdin")
    messages = _from_stdin() if args.stdin else _generated(args)
    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5, **quiet_logger()})
    errors: List[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for value, key, headers, partition in messages:
        extra: Dict[str, Any] = {} if partition is None else {"partition": partition}
        while True:
            try:
                producer.produce(args.topic, value=value, key=key, headers=headers or None, on_delivery=delivered, **extra)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(60)
    if left or errors:
        fail(f"{len(errors) + left} of {len(messages)} messages were not delivered: {errors[:3]}")
    emit({"produced": len(messages)})


def _record(msg: Any) -> Dict[str, Any]:
    raw: Optional[bytes] = msg.value()
    text: Optional[str]
    value: Any = None
    try:
        text = raw.decode() if raw is not None else None
    except UnicodeDecodeError:
        text = None
    if text is not None:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
    key = msg.key()
    return {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "key": key.decode(errors="replace") if key is not None else None,
        "headers": {name: (v.decode(errors="replace") if v is not None else None) for name, v in (msg.headers() or [])},
        "value": value,
        "text": text,
        "b64": base64.b64encode(raw).decode() if raw is not None else None,
    }


def cmd_consume(args: argparse.Namespace) -> None:
    admin = AdminClient({"bootstrap.servers": args.bootstrap, **quiet_logger()})
    partitions = topic_partitions(admin, args.topic)
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": f"kafka-client-{uuid.uuid4()}",  # never used to commit: assign(), not subscribe()
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": "read_committed",
        **quiet_logger(),
    })
    consumer.assign([TopicPartition(args.topic, p, -2) for p in partitions])  # -2: the beginning
    at_end = set()
    seen = 0
    started = last_message = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if args.expect is not None and seen >= args.expect:
                return
            if args.expect is None and len(at_end) == len(partitions) and now - last_message >= args.idle:
                return
            if now - started > args.timeout:
                if args.expect is not None:
                    fail(f"read {seen} of the {args.expect} expected messages from {args.topic!r} within {args.timeout:g} s")
                return
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == -191:  # _PARTITION_EOF
                    at_end.add(msg.partition())
                    continue
                fail(f"consuming {args.topic!r} failed: {msg.error()}")
            at_end.discard(msg.partition())
            last_message = time.monotonic()
            seen += 1
            emit(_record(msg))
    finally:
        sys.stdout.flush()
        consumer.close()


def cmd_offsets(args: argparse.Namespace) -> None:
    admin = AdminClient({"bootstrap.servers": args.bootstrap, **quiet_logger()})
    wanted = [TopicPartition(t, p) for t in args.topics for p in topic_partitions(admin, t)] or None
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group, "enable.auto.commit": False, **quiet_logger()})
    try:
        if wanted is None:
            from confluent_kafka import ConsumerGroupTopicPartitions

            result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(args.group)])
            committed = result[args.group].result().topic_partitions
        else:
            committed = consumer.committed(wanted, timeout=30)
    finally:
        consumer.close()
    for tp in sorted(committed, key=lambda tp: (tp.topic, tp.partition)):
        emit({"topic": tp.topic, "partition": tp.partition, "offset": tp.offset if tp.offset >= 0 else None})


def cmd_watermarks(args: argparse.Namespace) -> None:
    admin = AdminClient({"bootstrap.servers": args.bootstrap, **quiet_logger()})
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": f"kafka-client-{uuid.uuid4()}", **quiet_logger()})
    try:
        for p in topic_partitions(admin, args.topic):
            low, high = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=10)
            emit({"partition": p, "low": low, "high": high})
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/kafka client", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=DEFAULT_BOOTSTRAP)
    commands = parser.add_subparsers(dest="command", required=True)

    ping = commands.add_parser("ping")
    ping.add_argument("--timeout", type=float, default=10.0)

    create = commands.add_parser("create-topics")
    create.add_argument("topics", nargs="+")
    create.add_argument("--partitions", type=int, default=1)
    create.add_argument("--if-not-exists", action="store_true")

    delete = commands.add_parser("delete-topics")
    delete.add_argument("topics", nargs="+")

    produce = commands.add_parser("produce")
    produce.add_argument("topic")
    produce.add_argument("--count", type=int)
    produce.add_argument("--stdin", action="store_true")
    produce.add_argument("--start", type=int, default=0)
    produce.add_argument("--raw", action="store_true")
    produce.add_argument("--key-prefix", default="key-")
    produce.add_argument("--header", action="append", default=[])
    produce.add_argument("--partition", type=int)
    produce.add_argument("--size", type=int, default=0)

    consume = commands.add_parser("consume")
    consume.add_argument("topic")
    consume.add_argument("--expect", type=int)
    consume.add_argument("--idle", type=float, default=2.0)
    consume.add_argument("--timeout", type=float, default=120.0)

    offsets = commands.add_parser("offsets")
    offsets.add_argument("group")
    offsets.add_argument("topics", nargs="*")

    watermarks = commands.add_parser("watermarks")
    watermarks.add_argument("topic")

    # Subcommand options may also come before the subcommand's own arguments.
    for sub in (ping, create, delete, produce, consume, offsets, watermarks):
        sub.add_argument("--bootstrap", default=argparse.SUPPRESS)

    args = parser.parse_args()
    handlers = {
        "ping": cmd_ping,
        "create-topics": cmd_create_topics,
        "delete-topics": cmd_delete_topics,
        "produce": cmd_produce,
        "consume": cmd_consume,
        "offsets": cmd_offsets,
        "watermarks": cmd_watermarks,
    }
    handlers[args.command](args)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
