"""``blacklodge worker`` as a subprocess against a real Kafka broker.

Each test uses its own topics and group. The broker is the bench's (see kafka_support);
without one these tests fail (they never skip).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from kafka_support import (
    WorkerProcess,
    bench_kafka,
    bootstrap_or_fail,
    committed,
    create_topics,
    outputs_by_i,
    produce,
    produce_numbered,
    read_topic,
    unique,
    wait_for,
    worker_env,
)


@pytest.fixture(scope="module")
def bootstrap() -> str:
    return bootstrap_or_fail()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[List[WorkerProcess]]:
    started: List[WorkerProcess] = []
    yield started
    for worker in started:
        worker.close()


def start(workers: List[WorkerProcess], tmp_path: Path, env: dict) -> WorkerProcess:
    worker = WorkerProcess(tmp_path / f"worker-{len(workers)}.log", env)
    workers.append(worker)
    return worker


def test_every_record_gets_one_result_with_its_key_headers_and_provenance(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, group = unique("in"), unique("out"), unique("group")
    create_topics(bootstrap, source, sink, partitions=3)
    numbers = produce_numbered(bootstrap, source, 60)
    produce(bootstrap, source, [({"i": 1000, "log": True}, "key-1000", {"x-request-id": "req-from-upstream", "trace": "t1000"}, None)])
    inputs = {record["value"]["i"]: record for record in read_topic(bootstrap, source)}
    worker = start(
        workers,
        tmp_path,
        worker_env(bootstrap, "kafka_handlers:score", BLACKLODGE_KAFKA_TOPICS=source, BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink, BLACKLODGE_KAFKA_GROUP_ID=group),
    )
    worker.wait_ready()
    wait_for("61 results", lambda: len(read_topic(bootstrap, sink)) >= 61)
    results = read_topic(bootstrap, sink)
    assert sorted(r["value"]["i"] for r in results) == sorted(numbers + [1000])
    for result in results:
        source_record = inputs[result["value"]["i"]]
        assert result["value"] == {
            "i": source_record["value"]["i"],
            "score": source_record["value"]["i"] * 2,
            "mode": "kafka",
            "offset": source_record["offset"],
        }
        assert result["key"] == source_record["key"]
        headers = result["headers"]
        assert headers["trace"] == source_record["headers"]["trace"]
        assert headers["blacklodge-source-topic"] == source
        assert headers["blacklodge-source-partition"] == str(source_record["partition"])
        assert headers["blacklodge-source-offset"] == str(source_record["offset"])
        assert len(headers["x-request-id"]) == 32 or result["value"]["i"] == 1000
    assert [r["headers"]["x-request-id"] for r in results if r["value"]["i"] == 1000] == ["req-from-upstream"]
    # Every input offset is committed, and the probes and metrics say so.
    wait_for("all offsets committed", lambda: sum(o or 0 for o in committed(bootstrap, group, source).values()) == 61)
    assert worker.get("/healthz") == (200, '{"status": "ok"}')
    assert json.loads(worker.get("/readyz")[1]) == {"status": "ready", "partitions": 3}
    assert worker.metric("blacklodge_kafka_messages_consumed_total") == 61
    assert worker.metric("blacklodge_kafka_messages_produced_total") == 61
    assert worker.metric("blacklodge_handler_calls_total") == 61
    assert worker.metric("blacklodge_handler_duration_seconds_count") == 61
    statz = json.loads(worker.get("/statz")[1])
    assert statz["kafka"]["group_id"] == group and statz["kafka"]["assigned"] == [f"{source}/{p}" for p in range(3)]
    assert worker.terminate() == 0
    # The handler's log lines carry the record's coordinates and request id; the harness
    # itself writes no line per record.
    handled = [line for line in worker.logs() if line.get("logger") == "kafka_handlers"]
    record = inputs[1000]
    assert [(h["message"], h["mode"], h["request_id"], h["topic"], h["partition"], h["offset"]) for h in handled] == [
        ("scoring record 1000", "kafka", "req-from-upstream", source, record["partition"], record["offset"])
    ]
    assert len(worker.logs()) < 10, worker.output()
    stopped = [line for line in worker.logs() if line.get("message", "").startswith("stopped:")]
    assert len(stopped) == 1


def test_a_poison_record_goes_to_the_dead_letter_topic_and_the_rest_continue(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, dlq, group = unique("in"), unique("out"), unique("dlq"), unique("group")
    create_topics(bootstrap, source, sink, dlq, partitions=2)
    produce(
        bootstrap,
        source,
        [({"i": i}, f"key-{i}", {}, 0) for i in range(5)]
        + [({"i": 5, "poison": True}, "key-5", {"trace": "poisoned"}, 0)]
        + [(b"{not json", "key-bad", {}, 1), ({"i": 6, "reject": True}, "key-6", {}, 1)]
        + [({"i": i}, f"key-{i}", {}, 0) for i in range(7, 12)],
    )
    worker = start(
        workers,
        tmp_path,
        worker_env(
            bootstrap,
            "kafka_handlers:score",
            BLACKLODGE_KAFKA_TOPICS=source,
            BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink,
            BLACKLODGE_KAFKA_DLQ_TOPIC=dlq,
            BLACKLODGE_KAFKA_GROUP_ID=group,
            BLACKLODGE_KAFKA_MAX_RETRIES="2",
        ),
    )
    worker.wait_ready()
    wait_for("the results and dead letters", lambda: len(read_topic(bootstrap, sink)) >= 10 and len(read_topic(bootstrap, dlq)) >= 3)
    assert sorted(r["value"]["i"] for r in read_topic(bootstrap, sink)) == [0, 1, 2, 3, 4, 7, 8, 9, 10, 11]
    letters = {r["key"]: r for r in read_topic(bootstrap, dlq)}
    assert sorted(letters) == ["key-5", "key-6", "key-bad"]
    poisoned = letters["key-5"]
    assert poisoned["raw"] == json.dumps({"i": 5, "poison": True}).encode()  # the original bytes, untouched
    assert poisoned["headers"]["blacklodge-error-type"] == "handler_error"
    assert poisoned["headers"]["blacklodge-error-message"] == "ValueError: cannot score record 5"
    assert poisoned["headers"]["trace"] == "poisoned"
    assert poisoned["headers"]["blacklodge-source-topic"] == source
    assert poisoned["headers"]["blacklodge-source-partition"] == "0"
    assert poisoned["headers"]["blacklodge-source-offset"] == "5"
    assert letters["key-bad"]["raw"] == b"{not json"
    assert letters["key-bad"]["headers"]["blacklodge-error-type"] == "invalid_json"
    assert letters["key-bad"]["headers"]["blacklodge-error-message"] == "the record value is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    # BadInput is the handler saying the record is wrong: no retry.
    assert letters["key-6"]["headers"]["blacklodge-error-type"] == "bad_input"
    assert letters["key-6"]["headers"]["blacklodge-error-message"] == "the record has no features"
    wait_for("all offsets committed", lambda: committed(bootstrap, group, source) == {0: 11, 1: 2})
    assert worker.metric("blacklodge_kafka_messages_retried_total") == 2  # only the poison record, twice
    assert worker.metric("blacklodge_kafka_messages_dead_lettered_total") == 3
    assert worker.terminate() == 0
    warnings = [line for line in worker.logs() if line.get("message", "").startswith("sending the record to the dead-letter topic")]
    assert {(w["topic"], w["partition"], w["offset"]) for w in warnings} == {(source, 0, 5), (source, 1, 0), (source, 1, 1)}


def test_a_transient_failure_is_retried_then_succeeds(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, group = unique("in"), unique("out"), unique("group")
    create_topics(bootstrap, source, sink, partitions=2)
    produce_numbered(bootstrap, source, 30)
    worker = start(
        workers,
        tmp_path,
        worker_env(bootstrap, "kafka_handlers:flaky", BLACKLODGE_KAFKA_TOPICS=source, BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink, BLACKLODGE_KAFKA_GROUP_ID=group),
    )
    worker.wait_ready()
    wait_for("30 results", lambda: len(read_topic(bootstrap, sink)) >= 30)
    results = {r["value"]["i"]: r["value"]["attempts"] for r in read_topic(bootstrap, sink)}
    assert results == {i: (3 if i % 10 == 0 else 1) for i in range(30)}
    assert worker.metric("blacklodge_kafka_messages_retried_total") == 6
    assert worker.metric("blacklodge_kafka_messages_dead_lettered_total") == 0
    assert worker.terminate() == 0
    retries = [line for line in worker.logs() if line.get("message", "").startswith("attempt ")]
    assert len(retries) == 6
    assert retries[0]["message"] == "attempt 1 of 4 failed (ConnectionError: model server busy (attempt 1)); retrying in 0.05 s"
    assert retries[0]["level"] == "warning" and retries[0]["topic"] == source and "request_id" in retries[0]


def test_a_call_over_the_timeout_is_retried_on_another_thread_then_dead_lettered(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, dlq, group = unique("in"), unique("out"), unique("dlq"), unique("group")
    create_topics(bootstrap, source, sink, dlq, partitions=1)
    produce(bootstrap, source, [({"i": 0}, "k0", {}, None), ({"i": 1, "sleep": 4}, "k1", {}, None)] + [({"i": i}, f"k{i}", {}, None) for i in range(2, 6)])
    worker = start(
        workers,
        tmp_path,
        worker_env(
            bootstrap,
            "kafka_handlers:sleepy",
            BLACKLODGE_KAFKA_TOPICS=source,
            BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink,
            BLACKLODGE_KAFKA_DLQ_TOPIC=dlq,
            BLACKLODGE_KAFKA_GROUP_ID=group,
            BLACKLODGE_KAFKA_MAX_RETRIES="1",
            BLACKLODGE_KAFKA_CONCURRENCY="1",
            BLACKLODGE_TIMEOUT="0.5",
        ),
    )
    wait_for("the dead letter", lambda: len(read_topic(bootstrap, dlq)) == 1)
    letter = read_topic(bootstrap, dlq)[0]
    assert (letter["key"], letter["headers"]["blacklodge-error-type"]) == ("k1", "timeout")
    assert letter["headers"]["blacklodge-error-message"] == "the handler did not finish within 0.5s"
    # The records after it came after it (order within the partition), on the thread that took over.
    wait_for("five results", lambda: len(read_topic(bootstrap, sink)) == 5)
    assert [r["value"]["i"] for r in read_topic(bootstrap, sink)] == [0, 2, 3, 4, 5]
    wait_for("all offsets committed", lambda: committed(bootstrap, group, source) == {0: 6})
    assert worker.metric('blacklodge_handler_calls_total{outcome="timeout"}') == 2
    assert worker.metric("blacklodge_kafka_messages_retried_total") == 1
    # The two overrunning calls finish in the background; their results are dropped.
    wait_for("the overrunning calls to end", lambda: worker.metric("blacklodge_handler_calls_abandoned") == 0 and "overran" in worker.output())
    assert len(read_topic(bootstrap, sink)) == 5
    assert worker.get("/healthz")[0] == 200
    assert worker.terminate() == 0
    messages = [line.get("message", "") for line in worker.logs()]
    assert messages.count("the handler did not finish within 0.5s; the call keeps running in the background and the record is retried on another thread") == 2
    assert messages.count("a call that overran its deadline has finished (ok); its result is discarded") == 2


def test_a_long_call_on_the_polling_thread_moves_the_poll_loop_and_the_other_partitions_go_on(bootstrap: str, workers: list, tmp_path: Path) -> None:
    # Fast records are processed on the polling thread; a call that runs long must not hold up
    # the poll loop (rebalances, acknowledgements, commits, liveness): another thread takes it over.
    source, sink, group = unique("in"), unique("out"), unique("group")
    create_topics(bootstrap, source, sink, partitions=2)
    worker = start(
        workers,
        tmp_path,
        worker_env(
            bootstrap,
            "kafka_handlers:sleepy",
            BLACKLODGE_KAFKA_TOPICS=source,
            BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink,
            BLACKLODGE_KAFKA_GROUP_ID=group,
            BLACKLODGE_KAFKA_COMMIT_INTERVAL="0.2",
            BLACKLODGE_TIMEOUT="0",  # no deadline: only the hand-over of the poll loop frees it
        ),
    )
    worker.wait_ready()
    produce(bootstrap, source, [({"i": 0}, "k0", {}, 0), ({"i": 1, "sleep": 8}, "k1", {}, 0), ({"i": 2}, "k2", {}, 0)])
    wait_for("the long call to start", lambda: [r["value"]["i"] for r in read_topic(bootstrap, sink)] == [0], interval=0.1)
    time.sleep(1.0)
    started = time.monotonic()
    # Records of the other partition, produced while the long call runs, are processed and
    # committed before it ends.
    produce(bootstrap, source, [({"i": i}, f"k{i}", {}, 1) for i in range(10, 15)])
    wait_for("the other partition's results", lambda: len(read_topic(bootstrap, sink)) == 6, timeout=5, interval=0.1)
    wait_for("the other partition's commit", lambda: committed(bootstrap, group, source).get(1) == 5, timeout=5, interval=0.1)
    assert time.monotonic() - started < 5
    assert worker.get("/healthz")[0] == 200
    assert worker.get("/readyz")[0] == 200
    # The long call ends; the records after it follow in order and everything is committed.
    wait_for("all results", lambda: len(read_topic(bootstrap, sink)) == 8)
    assert sorted(r["value"]["i"] for r in read_topic(bootstrap, sink) if r["headers"]["blacklodge-source-partition"] == "0") == [0, 1, 2]
    wait_for("all offsets committed", lambda: committed(bootstrap, group, source) == {0: 3, 1: 5})
    assert worker.terminate() == 0
    messages = [line.get("message", "") for line in worker.logs()]
    assert messages.count(
        "a handler call on the polling thread runs long: the poll loop moves to a new thread, records go to the processing threads from now on"
    ) == 1


def test_without_a_dead_letter_topic_a_poison_record_stops_the_worker_uncommitted(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, group = unique("in"), unique("out"), unique("group")
    create_topics(bootstrap, source, sink, partitions=1)
    produce(bootstrap, source, [({"i": i, "poison": i == 5}, f"key-{i}", {}, None) for i in range(10)])
    env = worker_env(
        bootstrap,
        "kafka_handlers:score",
        BLACKLODGE_KAFKA_TOPICS=source,
        BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink,
        BLACKLODGE_KAFKA_GROUP_ID=group,
        BLACKLODGE_KAFKA_MAX_RETRIES="1",
    )
    first = start(workers, tmp_path, env)
    assert first.wait(60) == 1
    failure = [line for line in first.logs() if line.get("level") == "critical"]
    assert [line["message"] for line in failure] == [
        f"the record at {source}/0 offset 5 failed (handler_error: ValueError: cannot score record 5) and no dead-letter topic "
        "is configured: stopping without committing offset 5. Fix the handler or the record, or set BLACKLODGE_KAFKA_DLQ_TOPIC; "
        "a restarted worker resumes at this offset."
    ]
    assert (failure[0]["topic"], failure[0]["partition"], failure[0]["offset"]) == (source, 0, 5)
    # Everything before the poison record is done and committed; nothing after it was processed.
    assert committed(bootstrap, group, source) == {0: 5}
    assert sorted(r["value"]["i"] for r in read_topic(bootstrap, sink)) == [0, 1, 2, 3, 4]
    # A restart resumes at the poison record (and stops there again): nothing before it is redone.
    second = start(workers, tmp_path, env)
    assert second.wait(60) == 1
    attempts = [line for line in second.logs() if line.get("message", "").startswith("attempt 1 of 2 failed")]
    assert [a["offset"] for a in attempts] == [5]
    assert committed(bootstrap, group, source) == {0: 5}
    assert sorted(r["value"]["i"] for r in read_topic(bootstrap, sink)) == [0, 1, 2, 3, 4]


def test_sigterm_finishes_in_flight_records_commits_and_exits_0_without_duplicates(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, group = unique("in"), unique("out"), unique("group")
    create_topics(bootstrap, source, sink, partitions=3)
    numbers = produce_numbered(bootstrap, source, 600)
    env = worker_env(
        bootstrap,
        "kafka_handlers:score",
        BLACKLODGE_KAFKA_TOPICS=source,
        BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink,
        BLACKLODGE_KAFKA_GROUP_ID=group,
        BLACKLODGE_KAFKA_COMMIT_INTERVAL="5",  # the last commit is the one SIGTERM makes
        KAFKA_TEST_DELAY="0.01",
    )
    first = start(workers, tmp_path, env)
    first.wait_ready()
    wait_for("some results", lambda: len(read_topic(bootstrap, sink)) >= 50, interval=0.05)
    started = time.monotonic()
    assert first.terminate() == 0
    assert time.monotonic() - started < 25
    done = len(read_topic(bootstrap, sink))
    assert done < 600, "the worker finished before SIGTERM; the test proves nothing"
    # Every result written is covered by the commit: the successor starts right after it.
    assert sum(o or 0 for o in committed(bootstrap, group, source).values()) == done
    second = start(workers, tmp_path, {**env, "KAFKA_TEST_DELAY": "0"})
    second.wait_ready()
    wait_for("600 results", lambda: len(read_topic(bootstrap, sink)) >= 600)
    assert second.terminate() == 0
    counts = outputs_by_i(read_topic(bootstrap, sink))
    assert counts == {i: 1 for i in numbers}


def test_kill_9_mid_stream_then_restart_loses_nothing(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, group = unique("in"), unique("out"), unique("group")
    create_topics(bootstrap, source, sink, partitions=3)
    numbers = produce_numbered(bootstrap, source, 2000)
    env = worker_env(
        bootstrap,
        "kafka_handlers:score",
        BLACKLODGE_KAFKA_TOPICS=source,
        BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink,
        BLACKLODGE_KAFKA_GROUP_ID=group,
        KAFKA_TEST_DELAY="0.001",
    )
    rng = random.Random()
    for round_number in range(2):
        worker = start(workers, tmp_path, env)
        worker.wait_ready()
        target = len(read_topic(bootstrap, sink)) + rng.randint(100, 400)
        wait_for("results before the kill", lambda: len(read_topic(bootstrap, sink)) >= target, interval=0.02)
        worker.kill()
        assert len(read_topic(bootstrap, sink)) < 2000 * (round_number + 1), "everything was done before the kill"
    last = start(workers, tmp_path, env)
    last.wait_ready()
    wait_for("a result for every record", lambda: set(outputs_by_i(read_topic(bootstrap, sink))) == set(numbers), timeout=120)
    assert last.terminate() == 0
    counts = outputs_by_i(read_topic(bootstrap, sink))
    assert set(counts) == set(numbers)  # nothing lost; duplicates (counts above 1) are allowed
    assert committed(bootstrap, group, source) is not None
    assert sum(o or 0 for o in committed(bootstrap, group, source).values()) == 2000


def test_several_results_and_filtered_records(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, group = unique("in"), unique("out"), unique("group")
    create_topics(bootstrap, source, sink, partitions=2)
    produce_numbered(bootstrap, source, 30)
    worker = start(
        workers,
        tmp_path,
        worker_env(bootstrap, "kafka_handlers:fan_out", BLACKLODGE_KAFKA_TOPICS=source, BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink, BLACKLODGE_KAFKA_GROUP_ID=group),
    )
    worker.wait_ready()
    # The filtered records (multiples of 3) are committed too, though they produced nothing.
    wait_for("all offsets committed", lambda: sum(o or 0 for o in committed(bootstrap, group, source).values()) == 30)
    results = read_topic(bootstrap, sink)
    assert sorted((r["value"]["i"], r["value"]["part"]) for r in results) == sorted((i, p) for i in range(30) if i % 3 for p in (1, 2))
    assert worker.terminate() == 0


def test_raw_bytes_and_consume_only(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, group = unique("in"), unique("out"), unique("group")
    create_topics(bootstrap, source, sink, partitions=1)
    produce(bootstrap, source, [(b"hello \xff", "k", {}, None)])
    worker = start(
        workers,
        tmp_path,
        worker_env(
            bootstrap,
            "kafka_handlers:raw",
            BLACKLODGE_KAFKA_TOPICS=source,
            BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink,
            BLACKLODGE_KAFKA_GROUP_ID=group,
            BLACKLODGE_KAFKA_VALUE_FORMAT="bytes",
        ),
    )
    wait_for("the result", lambda: len(read_topic(bootstrap, sink)) == 1)
    assert read_topic(bootstrap, sink)[0]["raw"] == b"HELLO \xff"
    assert worker.terminate() == 0
    # Consume only: no output topic; the offsets are still committed.
    group2 = unique("group")
    only = start(workers, tmp_path, worker_env(bootstrap, "kafka_handlers:raw", BLACKLODGE_KAFKA_TOPICS=source, BLACKLODGE_KAFKA_GROUP_ID=group2, BLACKLODGE_KAFKA_VALUE_FORMAT="bytes"))
    wait_for("the offset committed", lambda: committed(bootstrap, group2, source) == {0: 1})
    assert only.terminate() == 0
    assert len(read_topic(bootstrap, sink)) == 1


def test_two_workers_split_the_partitions_and_a_rebalance_loses_nothing(bootstrap: str, workers: list, tmp_path: Path) -> None:
    source, sink, group = unique("in"), unique("out"), unique("group")
    create_topics(bootstrap, source, sink, partitions=4)
    numbers = produce_numbered(bootstrap, source, 1500)
    env = dict(
        BLACKLODGE_KAFKA_TOPICS=source, BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink, BLACKLODGE_KAFKA_GROUP_ID=group, KAFKA_TEST_DELAY="0.002"
    )
    first = start(workers, tmp_path, worker_env(bootstrap, "kafka_handlers:score", **env))
    first.wait_ready()
    second = start(workers, tmp_path, worker_env(bootstrap, "kafka_handlers:score", **env))

    def split() -> bool:
        a, b = (json.loads(w.get("/statz")[1])["kafka"]["assigned"] if w.get("/statz")[0] == 200 else [] for w in (first, second))
        return len(a) == 2 and len(b) == 2 and not set(a) & set(b)

    wait_for("the partitions split between the workers", split)
    # The first leaves in the middle: its partitions move to the second.
    assert first.terminate() == 0
    wait_for("a result for every record", lambda: set(outputs_by_i(read_topic(bootstrap, sink))) == set(numbers), timeout=120)
    wait_for("the second worker owns every partition", lambda: len(json.loads(second.get("/statz")[1])["kafka"]["assigned"]) == 4)
    assert second.terminate() == 0
    counts = outputs_by_i(read_topic(bootstrap, sink))
    assert set(counts) == set(numbers)
    # Graceful hand-overs: revoked partitions were committed after their in-flight records.
    assert all(count == 1 for count in counts.values()), {i: c for i, c in counts.items() if c > 1}


def test_a_broker_crash_is_survived_and_readiness_reflects_it(workers: list, tmp_path: Path) -> None:
    # The controller listens on port + 1; below the ephemeral range (32768 and up), so no free
    # port another test takes while the broker is down can be one of them.
    port = random.randrange(20000, 32000, 2)
    while _busy(port) or _busy(port + 1):
        port = random.randrange(20000, 32000, 2)
    data = tmp_path / "broker"
    bench_kafka("start", "--port", str(port), "--data", str(data))
    bootstrap = f"127.0.0.1:{port}"
    try:
        source, sink, group = unique("in"), unique("out"), unique("group")
        create_topics(bootstrap, source, sink, partitions=2)
        produce_numbered(bootstrap, source, 300)
        worker = start(
            workers,
            tmp_path,
            worker_env(
                bootstrap,
                "kafka_handlers:score",
                BLACKLODGE_KAFKA_TOPICS=source,
                BLACKLODGE_KAFKA_OUTPUT_TOPIC=sink,
                BLACKLODGE_KAFKA_GROUP_ID=group,
                BLACKLODGE_GRACE_PERIOD="5",
                KAFKA_TEST_DELAY="0.01",
            ),
        )
        worker.wait_ready()
        wait_for("some results", lambda: len(read_topic(bootstrap, sink)) >= 30, interval=0.05)
        bench_kafka("kill", "--port", str(port), "--data", str(data))
        wait_for("readiness to report the outage", lambda: worker.get("/readyz")[0] == 503, timeout=60)
        assert json.loads(worker.get("/readyz")[1]) == {"status": "not_ready", "reason": "brokers unreachable"}
        assert worker.get("/healthz")[0] == 200  # alive: waiting is not a reason to restart it
        bench_kafka("start", "--port", str(port), "--data", str(data))
        produce_numbered(bootstrap, source, 100, start=300)
        wait_for("the worker to be ready again", lambda: worker.get("/readyz")[0] == 200, timeout=90)
        wait_for("a result for every record", lambda: set(outputs_by_i(read_topic(bootstrap, sink))) == set(range(400)), timeout=120)
        wait_for("every offset committed", lambda: sum(o or 0 for o in committed(bootstrap, group, source).values()) == 400)
        # SIGTERM while the brokers are away with records in flight: the worker still ends
        # within its grace period (5 s here), leaving what it could not commit to its successor.
        produce_numbered(bootstrap, source, 300, start=400)
        wait_for("more results", lambda: len(read_topic(bootstrap, sink)) >= 420, interval=0.05)
        bench_kafka("kill", "--port", str(port), "--data", str(data))
        wait_for("readiness to report the outage", lambda: worker.get("/readyz")[0] == 503, timeout=60)
        stopping = time.monotonic()
        assert worker.terminate() == 0
        assert time.monotonic() - stopping < 5 + 3
        messages = [line.get("message", "") for line in worker.logs()]
        assert [m for m in messages if m.startswith("stopped:")], messages[-5:]
        # librdkafka repeats its complaints about a missing broker many times a second; each is logged once per 30 s.
        client = [line for line in worker.logs() if line.get("logger") == "blacklodge.kafka.client"]
        assert len(client) < 40, "\n".join(line["message"] for line in client)
    finally:
        bench_kafka("stop", "--port", str(port), "--data", str(data))


def _busy(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
