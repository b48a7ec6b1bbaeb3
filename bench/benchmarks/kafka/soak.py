"""Loss soak of `blacklodge worker`: crash it (kill -9) and the broker at random points and
count what was lost and what was duplicated.

    python soak.py --bootstrap B --broker-port P --broker-data DIR --bench-kafka PATH --blacklodge BIN [--runs 20] [--records 10000]

Every run: a new input topic (3 partitions) with RECORDS numbered JSON records, a new output
topic and group. A worker starts (committing every 0.2 s); after a random share (5-95 %) of the records has an output
it is killed with SIGKILL and a new one started, KILLS times; in every third run the broker
is also killed (SIGKILL) and restarted while a worker runs. A last worker runs until the
group's committed offsets cover every record, then gets SIGTERM. Then the output topic is
read: "lost" = inputs without an output, "duplicates" = outputs beyond the first per input.
One JSON object per run on stdout, then a summary.
"""

import argparse
import json
import random
import signal
import subprocess
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from worker_env import worker_env

PARTITIONS = 3


class Broker:
    def __init__(self, args):
        self.args = args
        self.admin = AdminClient({"bootstrap.servers": args.bootstrap, "log_level": 0})

    def control(self, action):
        subprocess.run(
            [self.args.bench_kafka, action, "--port", str(self.args.broker_port), "--data", self.args.broker_data],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300,
        )

    def create(self, *topics):
        for future in self.admin.create_topics([NewTopic(t, num_partitions=PARTITIONS, replication_factor=1) for t in topics], operation_timeout=30).values():
            future.result()
        time.sleep(0.3)

    def delete(self, *topics):
        for future in self.admin.delete_topics(list(topics), operation_timeout=30).values():
            try:
                future.result()
            except Exception:  # noqa: BLE001 - cleanup only
                pass


def produce(bootstrap, topic, count):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 20, "log_level": 0})
    for i in range(count):
        while True:
            try:
                producer.produce(topic, json.dumps({"i": i}).encode(), f"k{i}")
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(120) == 0


def high_watermarks(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"soak-w-{uuid.uuid4()}", "log_level": 0})
    try:
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(PARTITIONS))
    except Exception:  # noqa: BLE001 - the broker may be down right now
        return -1
    finally:
        consumer.close()


def committed(bootstrap, group, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "log_level": 0})
    try:
        result = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return sum(max(tp.offset, 0) for tp in result)
    except Exception:  # noqa: BLE001 - the broker may be down right now
        return -1
    finally:
        consumer.close()


def read_ids(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"soak-r-{uuid.uuid4()}", "enable.auto.commit": False, "log_level": 0})
    ids = []
    try:
        highs = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(PARTITIONS)}
        wanted = {p for p, h in highs.items() if h > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
        while wanted:
            for message in consumer.consume(1000, 1.0):
                if message.error() is not None:
                    continue
                ids.append(json.loads(message.value())["id"])
                if message.offset() + 1 >= highs[message.partition()]:
                    wanted.discard(message.partition())
    finally:
        consumer.close()
    return ids


def start_worker(args, source, sink, group, log):
    env = worker_env(
        args.bootstrap, source, sink, group, args.admin_port,
        BLACKLODGE_KAFKA_SESSION_TIMEOUT="6",
        # Commits every 0.2 s, so that the kills fall between commits of a worker that has
        # committed some positions already (with the default 1 s most kills came before the
        # first commit, which proves less).
        BLACKLODGE_KAFKA_COMMIT_INTERVAL="0.2",
        BLACKLODGE_LOG_LEVEL="warning",
    )
    return subprocess.Popen([args.blacklodge, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_outputs(args, sink, target, worker, finished=lambda: False, timeout=180):
    """Waits until the output topic holds `target` records, or `finished()` says the worker
    has nothing left to do (it has committed every input: after a broker restart late in a
    run no further output may come)."""
    deadline = time.monotonic() + timeout
    while high_watermarks(args.bootstrap, sink) < target:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited with {worker.returncode}")
        if finished():
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"no progress to {target} outputs in {timeout} s")
        time.sleep(0.01)


def answering_high_watermarks(args, sink, timeout=120):
    """The output topic's record count once the broker answers again (-1 while it is down)."""
    deadline = time.monotonic() + timeout
    while (count := high_watermarks(args.bootstrap, sink)) < 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"the broker did not answer in {timeout} s after its restart")
        time.sleep(0.1)
    return count


def one_run(args, broker, number, rng, log):
    source, sink, group = f"soak-in-{uuid.uuid4().hex[:8]}", f"soak-out-{uuid.uuid4().hex[:8]}", f"soak-{uuid.uuid4().hex[:8]}"
    broker.create(source, sink)
    produce(args.bootstrap, source, args.records)
    crash_broker = number % 3 == 0
    kills, broker_restarts = 0, 0
    started = time.monotonic()
    worker = None
    try:
        for kill in range(args.kills):
            worker = start_worker(args, source, sink, group, log)
            done = max(0, high_watermarks(args.bootstrap, sink))
            target = done + int(rng.uniform(0.05, 0.95) * max(1, args.records - done) / (args.kills - kill))
            wait_outputs(args, sink, target, worker)
            if crash_broker and kill == 0:
                broker.control("kill")
                time.sleep(rng.uniform(0.5, 3.0))
                broker.control("start")
                broker_restarts += 1
                # The worker must make progress through the restarted broker: 100 more
                # outputs, or every input committed when it had (almost) finished before.
                wait_outputs(
                    args, sink, answering_high_watermarks(args, sink) + 100, worker,
                    finished=lambda: committed(args.bootstrap, group, source) >= args.records,
                )
            worker.kill()
            worker.wait()
            kills += 1
        worker = start_worker(args, source, sink, group, log)
        deadline = time.monotonic() + 300
        while committed(args.bootstrap, group, source) < args.records:
            if worker.poll() is not None:
                raise SystemExit(f"the last worker exited with {worker.returncode}")
            if time.monotonic() > deadline:
                raise SystemExit("the last worker did not finish in 300 s")
            time.sleep(0.25)
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    finally:
        # A run that gives up must not leave its worker consuming.
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
    ids = read_ids(args.bootstrap, sink)
    unique = set(ids)
    result = {
        "run": number,
        "records": args.records,
        "worker_kills": kills,
        "broker_restarts": broker_restarts,
        "outputs": len(ids),
        "lost": len(set(range(args.records)) - unique),
        "duplicates": len(ids) - len(unique),
        "unexpected": len(unique - set(range(args.records))),
        "last_exit": code,
        "seconds": round(time.monotonic() - started, 1),
    }
    broker.delete(source, sink)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--broker-port", type=int, required=True)
    parser.add_argument("--broker-data", required=True)
    parser.add_argument("--bench-kafka", required=True)
    parser.add_argument("--blacklodge", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--admin-port", type=int, default=18098)
    parser.add_argument("--log", default="/dev/null")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    broker = Broker(args)
    results = []
    with open(args.log, "ab") as log:
        for number in range(1, args.runs + 1):
            result = one_run(args, broker, number, rng, log)
            results.append(result)
            print(json.dumps(result), flush=True)
    print(json.dumps({
        "summary": True,
        "seed": seed,
        "runs": len(results),
        "records": sum(r["records"] for r in results),
        "worker_kills": sum(r["worker_kills"] for r in results),
        "broker_restarts": sum(r["broker_restarts"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "duplicates": sum(r["duplicates"] for r in results),
        "unexpected": sum(r["unexpected"] for r in results),
        "nonzero_exits": sum(1 for r in results if r["last_exit"] != 0),
    }), flush=True)


if __name__ == "__main__":
    main()
