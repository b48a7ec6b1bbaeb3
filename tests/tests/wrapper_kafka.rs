//! The wrapper's `worker` process through pack, the built image and the bench's real Kafka
//! broker (`bench/kafka`, client `bench/kafka client`): every input gets its result, poison
//! messages go to the dead-letter topic or stop the worker without committing, a killed worker
//! or broker loses nothing, SIGTERM drains, two workers share a group; plus the build's side
//! (the `[kafka]` table, confluent-kafka only for worker apps, its errors).
//!
//! The delivery scenarios share one image (one `pack build`), run one after the other in one
//! test, each with topics and a consumer group of its own.

use blacklodge_tests::{App, Container, Image, assert_contains, assert_not_contains, output_text};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bench's broker (`bench/setup` starts it).
fn default_bootstrap() -> String {
    std::env::var("BLACKLODGE_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:19092".to_string())
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// `bench/kafka ARGS`, with `stdin`; the output, whatever the status.
fn bench_kafka(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(repo_dir().join("bench/kafka"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bench/kafka runs");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("bench/kafka finishes")
}

/// A broker, through the test client.
struct Kafka {
    bootstrap: String,
}

impl Kafka {
    /// `bench/kafka client --bootstrap B ARGS`: its JSON lines; panics unless it succeeds.
    fn client(&self, args: &[&str], stdin: Option<&str>) -> Vec<Value> {
        let output = bench_kafka(
            &[&["client", "--bootstrap", &self.bootstrap], args].concat(),
            stdin,
        );
        assert!(
            output.status.success(),
            "bench/kafka client {args:?} ({}): {}",
            output.status,
            output_text(&output)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).expect("JSON line"))
            .collect()
    }

    fn create(&self, topics: &[&str], partitions: u32) {
        let partitions = partitions.to_string();
        let _ = self.client(
            &[&["create-topics"], topics, &["--partitions", &partitions]].concat(),
            None,
        );
    }

    /// Produces `{"value", "key", "headers", "partition"}` items (`bench/kafka client produce
    /// --stdin`).
    fn produce(&self, topic: &str, items: &[Value]) {
        let lines = items
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        let _ = self.client(&["produce", topic, "--stdin"], Some(&lines));
    }

    /// Orders `from..to` (JSON `{"i": i, ...marks}`), key `order-i`, header `origin: tests`.
    fn produce_orders(&self, topic: &str, orders: std::ops::Range<u64>, marks: &[(u64, Value)]) {
        let items: Vec<Value> = orders
            .map(|i| {
                let mut value = json!({"i": i});
                for (order, mark) in marks {
                    if *order == i {
                        for (key, v) in mark.as_object().expect("an object") {
                            value[key] = v.clone();
                        }
                    }
                }
                json!({"value": value, "key": format!("order-{i}"), "headers": {"origin": "tests"}})
            })
            .collect();
        self.produce(topic, &items);
    }

    /// Every record of the topic (from the beginning, nothing committed); with `expect`, waits
    /// for that many.
    fn consume(&self, topic: &str, expect: Option<usize>) -> Vec<Value> {
        match expect {
            Some(count) => self.client(
                &[
                    "consume",
                    topic,
                    "--expect",
                    &count.to_string(),
                    "--timeout",
                    "180",
                ],
                None,
            ),
            None => self.client(&["consume", topic, "--idle", "2"], None),
        }
    }

    /// How many records the topic holds (the sum of its partitions' high watermarks: the
    /// idempotent producer writes no control records).
    fn count(&self, topic: &str) -> u64 {
        self.client(&["watermarks", topic], None)
            .iter()
            .map(|partition| partition["high"].as_u64().expect("high watermark"))
            .sum()
    }

    /// The group's committed offset per partition of `topic` (`None`: nothing committed).
    fn committed(&self, group: &str, topic: &str) -> BTreeMap<u64, Option<u64>> {
        self.client(&["offsets", group, topic], None)
            .iter()
            .map(|row| {
                (
                    row["partition"].as_u64().expect("partition"),
                    row["offset"].as_u64(),
                )
            })
            .collect()
    }

    /// Waits until the group's committed offsets of `topic` add up to `total`; on failure the
    /// message carries the logs of `worker`, the member expected to commit.
    fn wait_committed(&self, group: &str, topic: &str, total: u64, worker: &Container) {
        let mut last = BTreeMap::new();
        let done = wait_for(Duration::from_mins(1), || {
            last = self.committed(group, topic);
            last.values().map(|offset| offset.unwrap_or(0)).sum::<u64>() == total
        });
        assert!(
            done,
            "committed offsets of {group} on {topic}: {last:?}, expected {total} in all\n{}",
            worker.logs()
        );
    }
}

/// A broker of the test's own (`bench/kafka start --port P --data DIR`), to kill and restart.
struct PrivateBroker {
    port: String,
    data: tempfile::TempDir,
}

impl PrivateBroker {
    fn start() -> Self {
        // The controller listens on port + 1; the broker restarts on the same ports.
        let port = blacklodge_tests::free_port_pair_below_ephemeral();
        let broker = Self {
            port: port.to_string(),
            data: tempfile::tempdir().expect("tempdir"),
        };
        broker.run("start");
        broker
    }

    fn run(&self, action: &str) {
        let data = self.data.path().to_string_lossy().into_owned();
        let output = bench_kafka(&[action, "--port", &self.port, "--data", &data], None);
        assert!(
            output.status.success(),
            "bench/kafka {action}: {}",
            output_text(&output)
        );
    }

    fn kafka(&self) -> Kafka {
        Kafka {
            bootstrap: format!("127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        let data = self.data.path().to_string_lossy().into_owned();
        let _ = bench_kafka(&["kill", "--port", &self.port, "--data", &data], None);
    }
}

/// Polls `check` every 200 ms until it holds (true) or `timeout` passes (false).
fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        output_text(&output)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Waits for the container to stop (at most `timeout`); its exit code.
fn exit_code(container: &Container, timeout: Duration) -> i64 {
    assert!(
        wait_for(timeout, || !container.is_running()),
        "{} still runs:\n{}",
        container.name,
        container.logs()
    );
    docker(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &container.name,
    ])
    .parse()
    .expect("an exit code")
}

/// One scenario's topics and consumer group on a broker.
struct Stream {
    input: String,
    output: String,
    dlq: String,
    group: String,
}

impl Stream {
    fn new(kafka: &Kafka, name: &str, partitions: u32) -> Self {
        let input = unique(&format!("{name}-in"));
        let stream = Self {
            output: format!("{input}.scores"),
            dlq: format!("{input}.dlq"),
            group: unique(&format!("{name}-group")),
            input,
        };
        kafka.create(&[&stream.input], partitions);
        kafka.create(&[&stream.output, &stream.dlq], 1);
        stream
    }

    /// Runs the image's default process (the worker) on this stream; `extra` adds or
    /// overrides variables.
    fn worker(&self, image: &Image, kafka: &Kafka, extra: &[(&str, &str)]) -> Container {
        let mut env = vec![
            (
                "BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS",
                kafka.bootstrap.as_str(),
            ),
            ("BLACKLODGE_KAFKA_TOPICS", self.input.as_str()),
            ("BLACKLODGE_KAFKA_GROUP_ID", self.group.as_str()),
            ("BLACKLODGE_KAFKA_OUTPUT_TOPIC", self.output.as_str()),
            ("BLACKLODGE_KAFKA_COMMIT_INTERVAL", "0.2"),
            ("BLACKLODGE_KAFKA_RETRY_BACKOFF", "0.05"),
            // A killed member's partitions move on after this (the broker's minimum is 6 s).
            ("BLACKLODGE_KAFKA_SESSION_TIMEOUT", "10"),
        ];
        env.extend_from_slice(extra);
        image.start(None, &env)
    }

    /// Waits until the output topic holds at least `count` records (or panics with `worker`'s
    /// log).
    fn wait_for_output(&self, kafka: &Kafka, count: u64, worker: &Container) {
        let mut seen = 0;
        assert!(
            wait_for(Duration::from_mins(3), || {
                seen = kafka.count(&self.output);
                seen >= count
            }),
            "{seen} of {count} results on {}:\n{}",
            self.output,
            worker.logs()
        );
    }
}

/// The orders the results are for, with how often each was seen.
fn orders_of(records: &[Value]) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for record in records {
        let order = record["value"]["i"]
            .as_u64()
            .unwrap_or_else(|| panic!("no order in {record}"));
        *seen.entry(order).or_insert(0) += 1;
    }
    seen
}

/// Asserts every order of `expected` has a result; returns the number of duplicates.
fn assert_nothing_lost(records: &[Value], expected: &BTreeSet<u64>) -> usize {
    let seen = orders_of(records);
    let missing: Vec<&u64> = expected.iter().filter(|i| !seen.contains_key(i)).collect();
    assert!(missing.is_empty(), "no result for orders {missing:?}");
    let unexpected: Vec<&u64> = seen.keys().filter(|i| !expected.contains(i)).collect();
    assert!(unexpected.is_empty(), "results for orders {unexpected:?}");
    records.len() - seen.len()
}

fn get(container: &Container, path: &str) -> (u16, String) {
    let response = container.request("GET", path, &[], None);
    (response.status, response.body)
}

/// Waits until the worker's admin port answers `/readyz` with 200.
fn wait_until_ready(worker: &Container) {
    worker.wait_until_listening(Duration::from_mins(1));
    let mut last = (0, String::new());
    assert!(
        wait_for(Duration::from_mins(1), || {
            last = get(worker, "/readyz");
            last.0 == 200
        }),
        "not ready: {last:?}\n{}",
        worker.logs()
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup) and its Kafka broker"]
fn worker_delivers_every_message_through_the_real_broker() {
    let app = App::fixture("wrapper-kafka");
    let image = Image::new("wrapper-kafka");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "- Reading the wrapper configuration\n  - Entry point scoring:score (from blacklodge.toml)\n  - Modes: worker (default), web\n  - Kafka topics: orders\n  - Kafka consumer group: order-scorer\n  - Kafka output topic: scores\n  - Kafka dead-letter topic: none; a message that keeps failing stops the worker without committing it\n  - Kafka value format: json\n",
    );
    assert_contains(
        &log,
        "Installing the harness's dependencies (flask>=2.3, granian>=2.8,<2.9 and, for the worker, confluent-kafka>=2.5) from its lock, hash-checked",
    );
    assert_contains(&log, "- Checking the entry point\n  - confluent-kafka ");
    assert_contains(&log, " imports, from the harness layer\n");
    assert_contains(
        &log,
        "- Processes\n  - worker: /layers/blacklodge_wrapper/harness/bin/blacklodge worker (default)\n  - web: /layers/blacklodge_wrapper/harness/bin/blacklodge web\n",
    );
    assert_contains(&log, "Setting default process type 'worker'");

    // The [kafka] table is the launch environment's default.
    let env = image.shell_ok("env | grep ^BLACKLODGE_KAFKA_ | sort");
    assert_eq!(
        env,
        "BLACKLODGE_KAFKA_GROUP_ID=order-scorer\nBLACKLODGE_KAFKA_OUTPUT_TOPIC=scores\nBLACKLODGE_KAFKA_TOPICS=orders\nBLACKLODGE_KAFKA_VALUE_FORMAT=json\n"
    );
    // confluent-kafka is in the harness layer and its SBOM, at the locked version.
    assert_contains(&harness_packages(&image), "/confluent_kafka\n");
    let locked = locked_version("confluent-kafka");
    let sbom = image.launch_sbom("blacklodge_wrapper", "harness");
    assert!(
        sbom.to_string()
            .contains(&format!("pkg:pypi/confluent-kafka@{locked}")),
        "{sbom}"
    );

    let kafka = Kafka {
        bootstrap: default_bootstrap(),
    };
    delivers_exactly_once_per_message_and_drains_on_sigterm(&image, &kafka);
    poison_goes_to_the_dead_letter_topic_and_transient_failures_are_retried(&image, &kafka);
    poison_without_dead_letters_stops_the_worker_uncommitted(&image, &kafka);
    a_killed_worker_loses_nothing(&image, &kafka);
    two_workers_split_the_partitions_and_a_rebalance_loses_nothing(&image, &kafka);
    a_broker_restart_loses_nothing(&image);

    // Without the worker mode the harness layer is rebuilt without confluent-kafka.
    app.write(
        "blacklodge.toml",
        "entrypoint = \"scoring:score\"\nmodes = [\"web\"]\n",
    );
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "  - Discarding cached harness:\n    - the worker mode was disabled (confluent-kafka>=2.5 is no longer needed)\n",
    );
    assert_contains(
        &log,
        "Installing the harness's dependencies (flask>=2.3, granian>=2.8,<2.9) from its lock",
    );
    assert_not_contains(&log, "Kafka topics");
    let installed = harness_packages(&image);
    assert_contains(&installed, "/flask\n");
    assert_not_contains(&installed, "confluent_kafka");
}

/// The package directories installed in the harness layer (`…/site-packages/flask`), one a
/// line.
fn harness_packages(image: &Image) -> String {
    image.shell_ok(
        "find /layers/blacklodge_wrapper/harness/deps -mindepth 2 -maxdepth 6 -type d -path '*-packages/*' -prune | sort",
    )
}

/// The version of `name` in harness/requirements.lock.
fn locked_version(name: &str) -> String {
    let lock = fs_err::read_to_string(repo_dir().join("harness/requirements.lock"))
        .expect("harness/requirements.lock");
    lock.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}==")))
        .and_then(|rest| rest.split([' ', ';']).next())
        .unwrap_or_else(|| panic!("{name} is not locked"))
        .to_string()
}

/// N messages in, exactly N results out with their keys, headers and provenance; the admin
/// port answers; SIGTERM exits 0 and a restart reprocesses nothing.
fn delivers_exactly_once_per_message_and_drains_on_sigterm(image: &Image, kafka: &Kafka) {
    let stream = Stream::new(kafka, "delivery", 3);
    kafka.produce_orders(&stream.input, 0..200, &[]);
    let worker = stream.worker(image, kafka, &[]);
    wait_until_ready(&worker);
    let results = kafka.consume(&stream.output, Some(200));
    let inputs: BTreeMap<String, Value> = kafka
        .consume(&stream.input, Some(200))
        .into_iter()
        .map(|record| (record["key"].as_str().expect("key").to_string(), record))
        .collect();
    for result in &results {
        let key = result["key"].as_str().expect("the key passes through");
        let input = &inputs[key];
        let order = input["value"]["i"].as_u64().expect("order");
        assert_eq!(
            result["value"],
            json!({"i": order, "score": order * 2, "attempts": 1})
        );
        let headers = &result["headers"];
        assert_eq!(headers["origin"], "tests", "{result}");
        assert_eq!(headers["blacklodge-source-topic"], stream.input.as_str());
        assert_eq!(
            headers["blacklodge-source-partition"],
            input["partition"].to_string().as_str()
        );
        assert_eq!(
            headers["blacklodge-source-offset"],
            input["offset"].to_string().as_str()
        );
        assert!(
            headers["x-request-id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{result}"
        );
    }
    let expected: BTreeSet<u64> = (0..200).collect();
    assert_eq!(assert_nothing_lost(&results, &expected), 0);
    kafka.wait_committed(&stream.group, &stream.input, 200, &worker);

    let (status, metrics) = get(&worker, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    assert_contains(
        &metrics,
        &format!(
            "blacklodge_kafka_messages_consumed_total{{topic=\"{}\"}} 200\n",
            stream.input
        ),
    );
    assert_contains(
        &metrics,
        &format!(
            "blacklodge_kafka_messages_produced_total{{topic=\"{}\"}} 200\n",
            stream.output
        ),
    );
    let (status, body) = get(&worker, "/healthz");
    assert_eq!(status, 200, "{body}");

    // SIGTERM: drain, commit, exit 0; a restart reprocesses nothing and takes the new ones.
    docker(&["stop", "--time", "30", &worker.name]);
    assert_eq!(
        exit_code(&worker, Duration::from_secs(5)),
        0,
        "{}",
        worker.logs()
    );
    kafka.produce_orders(&stream.input, 200..250, &[]);
    docker(&["start", &worker.name]);
    stream.wait_for_output(kafka, 250, &worker);
    std::thread::sleep(Duration::from_secs(2));
    let results = kafka.consume(&stream.output, None);
    let expected: BTreeSet<u64> = (0..250).collect();
    assert_eq!(
        assert_nothing_lost(&results, &expected),
        0,
        "duplicates after a SIGTERM restart"
    );
}

/// A message that keeps failing goes to the DLQ untouched and the rest continue; one that fails
/// twice is retried and succeeds.
fn poison_goes_to_the_dead_letter_topic_and_transient_failures_are_retried(
    image: &Image,
    kafka: &Kafka,
) {
    let stream = Stream::new(kafka, "dlq", 1);
    kafka.produce_orders(
        &stream.input,
        0..20,
        &[(5, json!({"poison": true})), (7, json!({"flaky": 2}))],
    );
    let worker = stream.worker(
        image,
        kafka,
        &[
            ("BLACKLODGE_KAFKA_DLQ_TOPIC", stream.dlq.as_str()),
            ("BLACKLODGE_KAFKA_MAX_RETRIES", "3"),
        ],
    );
    let results = kafka.consume(&stream.output, Some(19));
    let expected: BTreeSet<u64> = (0..20).filter(|i| *i != 5).collect();
    assert_eq!(assert_nothing_lost(&results, &expected), 0);
    let flaky = results
        .iter()
        .find(|record| record["value"]["i"] == 7)
        .expect("order 7");
    assert_eq!(flaky["value"]["attempts"], 3, "{flaky}");

    let dead = kafka.consume(&stream.dlq, Some(1));
    let poison = kafka
        .consume(&stream.input, Some(20))
        .into_iter()
        .find(|record| record["value"]["i"] == 5)
        .expect("order 5");
    assert_eq!(
        dead[0]["b64"], poison["b64"],
        "the original value, untouched"
    );
    assert_eq!(dead[0]["key"], "order-5");
    let headers = &dead[0]["headers"];
    // The harness's error code and the exception, as for an HTTP 500.
    assert_eq!(
        headers["blacklodge-error-type"], "handler_error",
        "{headers}"
    );
    assert_eq!(
        headers["blacklodge-error-message"], "ValueError: order 5 is poison",
        "{headers}"
    );
    assert_eq!(headers["blacklodge-source-topic"], stream.input.as_str());
    assert_eq!(headers["blacklodge-source-offset"], "5");
    kafka.wait_committed(&stream.group, &stream.input, 20, &worker);
    assert!(worker.is_running(), "{}", worker.logs());
}

/// No DLQ: the worker stops at the poison message with a non-zero exit, its offset not
/// committed; a restart resumes exactly there (here with a DLQ, so it gets past it).
fn poison_without_dead_letters_stops_the_worker_uncommitted(image: &Image, kafka: &Kafka) {
    let stream = Stream::new(kafka, "stop", 1);
    kafka.produce_orders(&stream.input, 0..10, &[(4, json!({"poison": true}))]);
    let worker = stream.worker(image, kafka, &[("BLACKLODGE_KAFKA_MAX_RETRIES", "1")]);
    let code = exit_code(&worker, Duration::from_mins(2));
    let logs = worker.logs();
    // harness/README.md: 1, a message failed and there is no dead-letter topic.
    assert_eq!(code, 1, "{logs}");
    assert_contains(&logs, &stream.input);
    assert_contains(&logs, "order 4 is poison");
    assert_eq!(
        kafka.committed(&stream.group, &stream.input),
        BTreeMap::from([(0, Some(4))]),
        "{logs}"
    );
    let expected: BTreeSet<u64> = (0..4).collect();
    assert_eq!(
        assert_nothing_lost(&kafka.consume(&stream.output, None), &expected),
        0
    );

    // The same worker again stops at the same offset.
    docker(&["start", &worker.name]);
    assert_eq!(exit_code(&worker, Duration::from_mins(2)), 1);
    assert_eq!(
        kafka.committed(&stream.group, &stream.input),
        BTreeMap::from([(0, Some(4))])
    );
    // With a DLQ, the group resumes at order 4: nothing before it is processed again.
    let worker = stream.worker(
        image,
        kafka,
        &[("BLACKLODGE_KAFKA_DLQ_TOPIC", stream.dlq.as_str())],
    );
    stream.wait_for_output(kafka, 9, &worker);
    kafka.wait_committed(&stream.group, &stream.input, 10, &worker);
    let expected: BTreeSet<u64> = (0..10).filter(|i| *i != 4).collect();
    assert_eq!(
        assert_nothing_lost(&kafka.consume(&stream.output, None), &expected),
        0
    );
    assert_eq!(kafka.consume(&stream.dlq, Some(1))[0]["key"], "order-4");
}

/// `docker kill -s KILL` mid-stream, then a restart: every input has a result.
fn a_killed_worker_loses_nothing(image: &Image, kafka: &Kafka) {
    const N: u64 = 600;
    let stream = Stream::new(kafka, "kill", 3);
    kafka.produce_orders(&stream.input, 0..N, &[]);
    let worker = stream.worker(image, kafka, &[("SCORE_DELAY", "0.05")]);
    stream.wait_for_output(kafka, 60, &worker);
    docker(&["kill", "--signal", "KILL", &worker.name]);
    let at_kill = kafka.count(&stream.output);
    assert!(at_kill < N, "the worker finished before it was killed");
    docker(&["start", &worker.name]);
    stream.wait_for_output(kafka, N, &worker);
    kafka.wait_committed(&stream.group, &stream.input, N, &worker);
    let results = kafka.consume(&stream.output, None);
    let duplicates = assert_nothing_lost(&results, &(0..N).collect());
    eprintln!(
        "kill -9 after {at_kill} of {N} results: 0 lost, {duplicates} duplicates after the restart"
    );
}

/// Two workers in one group share the partitions; when one stops, the other takes over and
/// nothing is lost.
fn two_workers_split_the_partitions_and_a_rebalance_loses_nothing(image: &Image, kafka: &Kafka) {
    const N: u64 = 600;
    let stream = Stream::new(kafka, "group", 4);
    let first = stream.worker(
        image,
        kafka,
        &[("SCORE_DELAY", "0.05"), ("WORKER_NAME", "first")],
    );
    wait_until_ready(&first);
    let second = stream.worker(
        image,
        kafka,
        &[("SCORE_DELAY", "0.05"), ("WORKER_NAME", "second")],
    );
    wait_until_ready(&second);
    wait_until_ready(&first);
    kafka.produce_orders(&stream.input, 0..N, &[]);
    stream.wait_for_output(kafka, 100, &first);
    docker(&["stop", "--time", "30", &second.name]);
    assert_eq!(
        exit_code(&second, Duration::from_secs(5)),
        0,
        "{}",
        second.logs()
    );
    stream.wait_for_output(kafka, N, &first);
    kafka.wait_committed(&stream.group, &stream.input, N, &first);
    let results = kafka.consume(&stream.output, None);
    let duplicates = assert_nothing_lost(&results, &(0..N).collect());

    // Which partitions each worker scored: split while both ran, all of them the first's after
    // the second stopped.
    let mut partitions: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for record in &results {
        partitions
            .entry(record["value"]["worker"].as_str().expect("worker name"))
            .or_default()
            .insert(
                record["headers"]["blacklodge-source-partition"]
                    .as_str()
                    .expect("partition")
                    .to_string(),
            );
    }
    let second_had = partitions.get("second").cloned().unwrap_or_default();
    assert!(
        !second_had.is_empty() && second_had.len() < 4,
        "the second worker scored partitions {second_had:?}: {partitions:?}"
    );
    assert_eq!(
        partitions.get("first").map(BTreeSet::len),
        Some(4),
        "the first worker took over every partition: {partitions:?}"
    );
    eprintln!(
        "two workers in one group ({partitions:?}), one stopped mid-stream: 0 lost, {duplicates} duplicates"
    );
}

/// The broker is killed and restarted mid-stream: the worker waits, then finishes, nothing
/// lost.
fn a_broker_restart_loses_nothing(image: &Image) {
    const N: u64 = 400;
    let broker = PrivateBroker::start();
    let kafka = broker.kafka();
    let stream = Stream::new(&kafka, "outage", 3);
    kafka.produce_orders(&stream.input, 0..N, &[]);
    let worker = stream.worker(image, &kafka, &[("SCORE_DELAY", "0.05")]);
    stream.wait_for_output(&kafka, 50, &worker);
    broker.run("kill");
    // Not ready while the broker is away, but alive: it waits.
    let mut readyz = (0, String::new());
    assert!(
        wait_for(Duration::from_secs(30), || {
            readyz = get(&worker, "/readyz");
            readyz.0 == 503
        }),
        "/readyz during the outage: {readyz:?}\n{}",
        worker.logs()
    );
    assert_contains(&readyz.1, "brokers unreachable");
    assert!(worker.is_running(), "{}", worker.logs());
    let (status, body) = get(&worker, "/healthz");
    assert_eq!(status, 200, "{body}");
    broker.run("start");
    stream.wait_for_output(&kafka, N, &worker);
    kafka.wait_committed(&stream.group, &stream.input, N, &worker);
    let results = kafka.consume(&stream.output, None);
    let duplicates = assert_nothing_lost(&results, &(0..N).collect());
    eprintln!("broker killed and restarted: 0 lost, {duplicates} duplicates");
    wait_until_ready(&worker);
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn kafka_configuration_mistakes_fail_the_build_with_the_fix() {
    let app = App::fixture("wrapper-kafka");
    app.replace("blacklodge.toml", "group-id = ", "group = ");
    let log = Image::new("wrapper-kafka-key").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid wrapper configuration in blacklodge.toml\n!\n! blacklodge.toml: line 11, in [kafka]: unknown field `group`, expected one of\n! `topics`, `group-id`, `output-topic`, `dlq-topic`, `value-format`\n!\n! How to fix:\n!   The keys of [kafka] are: topics = [\"orders\"], group-id = \"...\", output-topic\n!   = \"...\", dlq-topic = \"...\", value-format = \"json\" or \"bytes\"; all optional,\n!   each a default the worker's BLACKLODGE_KAFKA_* variables override at run\n!   time. See docs/wrapper.md.\n",
    );

    let app = App::fixture("wrapper-kafka");
    app.replace(
        "blacklodge.toml",
        "modes = [\"worker\", \"web\"]\ndefault-mode = \"worker\"\n",
        "modes = [\"web\", \"job\"]\n",
    );
    let log = Image::new("wrapper-kafka-modes").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: A [kafka] table without the worker mode\n!\n! [kafka] in blacklodge.toml configures the Kafka worker, but modes in\n! blacklodge.toml only has 'web', 'job', so no process would read it.\n!\n! How to fix:\n!   Add \"worker\" to modes (modes = [\"web\", \"job\", \"worker\"]), or remove modes to\n!   get web, job and worker; or delete the [kafka] table if the image needs no\n!   worker.\n",
    );

    let app = App::fixture("wrapper-kafka");
    app.replace(
        "blacklodge.toml",
        "topics = [\"orders\"]",
        "topics = [\"orders,refunds\"]",
    );
    let log = Image::new("wrapper-kafka-topic").build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: Invalid Kafka topic name in topics\n!\n! topics in [kafka] in blacklodge.toml has \"orders,refunds\": ',' is not allowed;\n! a Kafka topic name has 1 to 249 characters, each a letter (a-z, A-Z), a digit,\n! '.', '_' or '-', and is not '.' or '..'.\n",
    );
}

#[test]
#[ignore = "integration test: needs the bench (bench/setup)"]
fn the_apps_own_confluent_kafka_is_kept_or_the_conflict_named() {
    let app = App::fixture("wrapper-kafka");
    // Both releases publish wheels for CPython 3.11 (not for the newest Python).
    app.write(".python-version", "3.11\n");
    // Older than the harness's extra (confluent-kafka>=2.5) allows.
    app.write("requirements.txt", "confluent-kafka==2.4.0\n");
    let image = Image::new("wrapper-kafka-pins");
    let log = image.build_fails(&app);
    assert_contains(
        &log,
        "! ERROR: The app's packages conflict with the harness's dependencies\n",
    );
    assert_contains(
        &log,
        "! The harness needs flask>=2.3, granian>=2.8,<2.9, confluent-kafka>=2.5, at the\n! versions of its lock (harness/requirements.lock) for whatever your app does\n! not install itself. The wrapper never replaces a package your app installed,\n! and confluent-kafka==2.4.0 cannot be combined with them.\n",
    );

    // A release that satisfies the extra is the one the worker imports, even if the lock has
    // another.
    app.write("requirements.txt", "confluent-kafka==2.6.1\n");
    let log = image.build_ok(&app);
    assert_contains(
        &log,
        "Requirement already satisfied: confluent-kafka>=2.5 in /layers/blacklodge_pip/venv/lib/python3.11/site-packages (2.6.1)",
    );
    assert_contains(&log, "  - confluent-kafka 2.6.1 (librdkafka ");
    assert_contains(&log, " imports, from the app's packages\n");
    assert_not_contains(&harness_packages(&image), "confluent_kafka");
}
