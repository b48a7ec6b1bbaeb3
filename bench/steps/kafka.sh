# The Apache Kafka broker of the bench: KRaft mode, one node on 127.0.0.1:19092 (controller on
# 19093), its jars fetched from Maven Central with Maven and cached by version, plus the
# hash-pinned client venv the tests use. All of it lives in bench/kafka (also the command tests
# use to run private brokers); this step starts the default instance and waits until it answers.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

"$BENCH_DIR/kafka" start
