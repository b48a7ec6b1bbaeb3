"""The baseline of the Kafka throughput benchmark: a bare confluent-kafka consume -> produce
loop with the worker's guarantee, written as a careful user would without the harness.

Same work per record as `blacklodge worker`: JSON-decode the value, call app.score, JSON-encode
the result, produce it with the input's key and headers plus the provenance headers, with an
idempotent acks=all producer. Same commit rule: auto commit and offset store off; a record's
offset counts as done when its output is acknowledged, and every commit interval the position
after the contiguous done prefix of each partition is committed, asynchronously, in one request.
One thread; the producer's callbacks are served between batches.

    python bare_loop.py BOOTSTRAP INPUT_TOPIC OUTPUT_TOPIC GROUP
Runs until SIGTERM, then flushes, commits and exits 0.
"""

import json
import signal
import sys
from collections import deque

from confluent_kafka import Consumer, Producer, TopicPartition

import app

bootstrap, source, sink, group = sys.argv[1:5]
stopping = False


def stop(*_args):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)

consumer = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
    "partition.assignment.strategy": "cooperative-sticky",
})
producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5, "message.timeout.ms": 0})

# Per partition: offsets in the order consumed, and the set not yet delivered.
pending = {}
outstanding = {}
position = {}


def delivered(err, msg, tp, offset):
    if err is not None:
        raise SystemExit(f"delivery failed: {err}")
    outstanding[tp].discard(offset)
    queue = pending[tp]
    last = None
    while queue and queue[0] not in outstanding[tp]:
        last = queue.popleft()
    if last is not None:
        position[tp] = last + 1


def commit():
    if position:
        consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in position.items()], asynchronous=True)
        position.clear()


consumer.subscribe([source])
import time

next_commit = time.monotonic() + 1.0
encode = json.JSONEncoder(separators=(",", ":")).encode
while not stopping:
    for message in consumer.consume(500, 0.1):
        if message.error() is not None:
            continue
        tp = (message.topic(), message.partition())
        offset = message.offset()
        if tp not in pending:
            pending[tp], outstanding[tp] = deque(), set()
        pending[tp].append(offset)
        outstanding[tp].add(offset)
        result = app.score(json.loads(message.value()))
        headers = (message.headers() or []) + [
            ("blacklodge-source-topic", tp[0].encode()),
            ("blacklodge-source-partition", str(tp[1]).encode()),
            ("blacklodge-source-offset", str(offset).encode()),
        ]
        while True:
            try:
                producer.produce(sink, encode(result).encode(), message.key(), headers=headers,
                                 on_delivery=lambda err, msg, tp=tp, offset=offset: delivered(err, msg, tp, offset))
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.poll(0)
    if time.monotonic() >= next_commit:
        commit()
        next_commit = time.monotonic() + 1.0
producer.flush(30)
commit()
consumer.close()
