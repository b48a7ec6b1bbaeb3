"""Throughput of `blacklodge worker` against the bare loop (bare_loop.py), paired rounds.

    python throughput.py --bootstrap B --records N --partitions P --rounds R --python PY --blacklodge BIN
Prints one JSON object per run on stdout, then a summary object (the shell script turns them
into bench/results/kafka.md).

Both sides read the same input topic (N JSON records over P partitions, produced once), each
run with a new consumer group and a new output topic, so every run processes all N records
from the start. A run's rate is N over the time between the first and the last output
record's timestamp (set by the producer when it sends), so start-up and group joining are not
counted; the run ends when the group's committed offsets cover all N records. CPU is the
process's user + system time (from /proc) per record, over the whole run.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from worker_env import worker_env

HERE = Path(__file__).resolve().parent


_admins = {}


def admin(bootstrap):
    """One admin client per broker, kept: a future outlives a client dropped at once."""
    if bootstrap not in _admins:
        _admins[bootstrap] = AdminClient({"bootstrap.servers": bootstrap})
    return _admins[bootstrap]


def create(bootstrap, topic, partitions):
    for future in admin(bootstrap).create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]).values():
        future.result()
    time.sleep(0.5)


def produce(bootstrap, topic, count):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 20})
    for i in range(count):
        while True:
            try:
                producer.produce(topic, json.dumps({"i": i, "amount": i % 997, "country": "NO"}).encode(), f"order-{i}", headers=[("trace", b"bench")])
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0


def committed_total(bootstrap, group, topic, partitions):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        result = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    except KafkaException:
        return 0  # a fresh broker's group coordinator is still loading: ask again
    finally:
        consumer.close()
    return sum(max(tp.offset, 0) for tp in result)


def output_span(bootstrap, topic, partitions):
    """(records, first timestamp, last timestamp) of the output topic, in seconds."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"span-{uuid.uuid4()}"})
    first, last, total = None, None, 0
    try:
        for p in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
            for offset in (low, high - 1):
                if high <= low:
                    continue
                consumer.assign([TopicPartition(topic, p, offset)])
                while True:
                    message = consumer.poll(5)
                    if message is not None and message.error() is None:
                        ts = message.timestamp()[1] / 1000
                        first = ts if first is None else min(first, ts)
                        last = ts if last is None else max(last, ts)
                        break
    finally:
        consumer.close()
    return total, first, last


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def run(args, kind, source):
    sink, group = f"bench-out-{uuid.uuid4().hex[:8]}", f"bench-{kind}-{uuid.uuid4().hex[:8]}"
    create(args.bootstrap, sink, args.partitions)
    if kind == "harness":
        env = worker_env(args.bootstrap, source, sink, group, args.admin_port)
        env.update(dict(item.split("=", 1) for item in args.harness_env))
        command = [args.blacklodge, "worker"]
    else:
        env = dict(os.environ, PYTHONPATH=str(HERE))
        command = [args.python, str(HERE / "bare_loop.py"), args.bootstrap, source, sink, group]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    try:
        while committed_total(args.bootstrap, group, source, args.partitions) < args.records:
            if process.poll() is not None:
                raise SystemExit(f"{kind} exited with {process.returncode}")
            if time.monotonic() - started > args.timeout:
                raise SystemExit(f"{kind} did not finish {args.records} records in {args.timeout} s")
            time.sleep(0.25)
        cpu = cpu_seconds(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    total, first, last = output_span(args.bootstrap, sink, args.partitions)
    for future in admin(args.bootstrap).delete_topics([sink]).values():
        future.result()
    return {
        "kind": kind,
        "records": args.records,
        "outputs": total,
        "rate": round(args.records / (last - first), 1),
        "cpu_us_per_record": round(cpu / args.records * 1e6, 1),
        "exit": code,
        "seconds": round(last - first, 3),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--records", type=int, default=100000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--blacklodge", required=True)
    parser.add_argument("--admin-port", type=int, default=18099)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--harness-env", action="append", default=[])
    args = parser.parse_args()
    source = f"bench-in-{uuid.uuid4().hex[:8]}"
    create(args.bootstrap, source, args.partitions)
    produce(args.bootstrap, source, args.records)
    ratios, runs = [], []
    for round_number in range(args.rounds):
        order = ["harness", "bare"] if round_number % 2 == 0 else ["bare", "harness"]
        results = {kind: run(args, kind, source) for kind in order}
        for kind in order:
            results[kind]["round"] = round_number + 1
            print(json.dumps(results[kind]), flush=True)
            runs.append(results[kind])
        ratios.append(results["harness"]["rate"] / results["bare"]["rate"])
    for future in admin(args.bootstrap).delete_topics([source]).values():
        future.result()
    summary = {
        "summary": True,
        "median_ratio": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "harness_median_rate": statistics.median(r["rate"] for r in runs if r["kind"] == "harness"),
        "bare_median_rate": statistics.median(r["rate"] for r in runs if r["kind"] == "bare"),
        "harness_median_cpu": statistics.median(r["cpu_us_per_record"] for r in runs if r["kind"] == "harness"),
        "bare_median_cpu": statistics.median(r["cpu_us_per_record"] for r in runs if r["kind"] == "bare"),
        "duplicates_or_missing": [r for r in runs if r["outputs"] != r["records"] or r["exit"] != 0],
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
