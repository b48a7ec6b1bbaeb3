"""The worker's variables: defaults, parsing, and every message in full."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from blacklodge_harness.config import load_settings
from blacklodge_harness.errors import ConfigError
from blacklodge_harness.kafka import client_config, consumer_config, producer_config

from conftest import APPS
from kafka_support import free_port

BASE = {"BLACKLODGE_ENTRYPOINT": "model:predict", "BLACKLODGE_APP_DIR": str(APPS)}
WORKER = {**BASE, "BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS": "kafka-0:9092", "BLACKLODGE_KAFKA_TOPICS": "orders"}
FIX = (
    "  fix: Fix or remove the variables above. Every BLACKLODGE_* variable, its default and accepted values "
    "are listed in the harness README (Configuration)."
)


def rendered(env: Dict[str, str], *, worker: bool = False) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(env, worker=worker)
    return info.value.render()


def test_worker_defaults() -> None:
    settings = load_settings(WORKER, worker=True)
    assert settings.kafka_bootstrap_servers == "kafka-0:9092"
    assert settings.kafka_topics == ("orders",)
    assert settings.kafka_group_id == "model"  # the app name, which defaults to the module
    assert settings.kafka_output_topic is None and settings.kafka_dlq_topic is None
    assert (settings.kafka_value_format, settings.kafka_auto_offset_reset) == ("json", "earliest")
    assert (settings.kafka_max_retries, settings.kafka_retry_backoff) == (3, 0.5)
    assert (settings.kafka_concurrency, settings.kafka_commit_interval, settings.kafka_session_timeout) == (4, 1.0, 45.0)
    assert settings.kafka_security_protocol == "plaintext"
    assert settings.admin_port == 8080


def test_worker_values_are_parsed() -> None:
    settings = load_settings(
        {
            **WORKER,
            "BLACKLODGE_APP_NAME": "fraud",
            "BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS": " kafka-0:9092 , [::1]:9093",
            "BLACKLODGE_KAFKA_TOPICS": "orders, refunds",
            "BLACKLODGE_KAFKA_OUTPUT_TOPIC": "scores",
            "BLACKLODGE_KAFKA_DLQ_TOPIC": "orders.dlq",
            "BLACKLODGE_KAFKA_VALUE_FORMAT": "BYTES",
            "BLACKLODGE_KAFKA_MAX_RETRIES": "0",
            "BLACKLODGE_KAFKA_RETRY_BACKOFF": "2s",
            "BLACKLODGE_KAFKA_CONCURRENCY": "8",
            "PORT": "9000",
        },
        worker=True,
    )
    assert settings.kafka_bootstrap_servers == "kafka-0:9092,[::1]:9093"
    assert settings.kafka_topics == ("orders", "refunds")
    assert settings.kafka_group_id == "fraud"
    assert (settings.kafka_output_topic, settings.kafka_dlq_topic) == ("scores", "orders.dlq")
    assert settings.kafka_value_format == "bytes"
    assert (settings.kafka_max_retries, settings.kafka_retry_backoff, settings.kafka_concurrency) == (0, 2.0, 8)
    assert settings.admin_port == 9000  # PORT, when BLACKLODGE_ADMIN_PORT is not set
    assert load_settings({**WORKER, "PORT": "9000", "BLACKLODGE_ADMIN_PORT": "9100"}).admin_port == 9100


def test_the_worker_needs_brokers_and_topics() -> None:
    assert rendered(BASE, worker=True) == "\n".join(
        [
            "error: 2 problems in the harness configuration",
            "  - BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS is not set: expected the Kafka brokers as host:port[,host:port...], e.g. kafka-0.kafka:9092.",
            "  - BLACKLODGE_KAFKA_TOPICS is not set: expected the input topics, comma-separated (set them in the build config's [kafka] "
            "table as topics = [...], or in the container's environment).",
            FIX,
        ]
    )
    # The other modes do not need them.
    assert load_settings(BASE).kafka_topics == ()


def test_malformed_brokers_and_topics() -> None:
    env = {**BASE, "BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS": "kafka", "BLACKLODGE_KAFKA_TOPICS": "a,b b,.."}
    assert rendered(env, worker=True) == "\n".join(
        [
            "error: 2 problems in the harness configuration",
            "  - BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS='kafka' is invalid: expected a comma-separated list of host:port, e.g. "
            "kafka-0.kafka:9092,kafka-1.kafka:9092.",
            "  - BLACKLODGE_KAFKA_TOPICS='a,b b,..' is invalid: expected a comma-separated list of Kafka topic names, each 1 to 249 "
            "characters of A-Z a-z 0-9 . _ -, not '.' or '..'.",
            FIX,
        ]
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("BLACKLODGE_KAFKA_TOPICS", "orders,orders", "a comma-separated list of Kafka topic names, each 1 to 249 characters of A-Z a-z 0-9 . _ -, not '.' or '..', each listed once"),
        ("BLACKLODGE_KAFKA_OUTPUT_TOPIC", "scores!", "a Kafka topic name: 1 to 249 characters of A-Z a-z 0-9 . _ -, not '.' or '..'"),
        ("BLACKLODGE_KAFKA_DLQ_TOPIC", "x" * 250, None),
        ("BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS", "kafka:99999", "a comma-separated list of host:port, e.g. kafka-0.kafka:9092,kafka-1.kafka:9092"),
        ("BLACKLODGE_KAFKA_VALUE_FORMAT", "avro", "one of json, bytes"),
        ("BLACKLODGE_KAFKA_AUTO_OFFSET_RESET", "beginning", "one of earliest, latest"),
        ("BLACKLODGE_KAFKA_MAX_RETRIES", "-1", "a whole number from 0 to 100"),
        ("BLACKLODGE_KAFKA_RETRY_BACKOFF", "soon", "a number of seconds from 0 to 600"),
        ("BLACKLODGE_KAFKA_CONCURRENCY", "0", "a whole number from 1 to 64"),
        ("BLACKLODGE_KAFKA_COMMIT_INTERVAL", "0", "a number of seconds from 0.01 to 60"),
        ("BLACKLODGE_KAFKA_SESSION_TIMEOUT", "0.5", "a number of seconds from 1 to 3600"),
        ("BLACKLODGE_KAFKA_SECURITY_PROTOCOL", "tls", "one of plaintext, ssl, sasl_plaintext, sasl_ssl"),
        ("BLACKLODGE_KAFKA_SASL_MECHANISM", "gssapi", "one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
        ("BLACKLODGE_KAFKA_SSL_CA_LOCATION", "/does/not/exist.pem", "a readable file"),
        ("BLACKLODGE_ADMIN_PORT", "0", "a whole number from 1 to 65535"),
    ],
)
def test_each_malformed_worker_value(name: str, value: str, expected: str) -> None:
    security = {}
    if "_SASL_" in name:
        security = {"BLACKLODGE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "BLACKLODGE_KAFKA_SASL_USERNAME": "u", "BLACKLODGE_KAFKA_SASL_PASSWORD": "p"}
    elif "_SSL_" in name:
        security = {"BLACKLODGE_KAFKA_SECURITY_PROTOCOL": "ssl"}
    message = rendered({**WORKER, **security, name: value})
    shown = value if len(value) <= 80 else value[:77] + "..."
    if expected is None:
        expected = "a Kafka topic name: 1 to 249 characters of A-Z a-z 0-9 . _ -, not '.' or '..'"
    assert message == "\n".join(["error: Invalid harness configuration", f"  - {name}={shown!r} is invalid: expected {expected}.", FIX])


def test_results_and_dead_letters_must_not_go_to_an_input_topic() -> None:
    env = {**WORKER, "BLACKLODGE_KAFKA_OUTPUT_TOPIC": "orders", "BLACKLODGE_KAFKA_DLQ_TOPIC": "orders"}
    assert rendered(env) == "\n".join(
        [
            "error: 2 problems in the harness configuration",
            "  - BLACKLODGE_KAFKA_OUTPUT_TOPIC='orders' is also an input topic (BLACKLODGE_KAFKA_TOPICS): the worker would consume "
            "its own results again, forever.",
            "  - BLACKLODGE_KAFKA_DLQ_TOPIC='orders' is also an input topic (BLACKLODGE_KAFKA_TOPICS): the worker would consume "
            "its own dead letters again, forever.",
            FIX,
        ]
    )


def test_sasl_needs_mechanism_user_and_password_and_never_shows_the_password() -> None:
    env = {**WORKER, "BLACKLODGE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "BLACKLODGE_KAFKA_SASL_PASSWORD": "hunter2"}
    message = rendered(env)
    assert message == "\n".join(
        [
            "error: Invalid harness configuration",
            "  - BLACKLODGE_KAFKA_SECURITY_PROTOCOL=sasl_ssl needs BLACKLODGE_KAFKA_SASL_MECHANISM, BLACKLODGE_KAFKA_SASL_USERNAME: "
            "the mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512), user name and password.",
            FIX,
        ]
    )
    env = {**WORKER, "BLACKLODGE_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext"}
    assert "needs BLACKLODGE_KAFKA_SASL_MECHANISM, BLACKLODGE_KAFKA_SASL_USERNAME, BLACKLODGE_KAFKA_SASL_PASSWORD (or _FILE):" in rendered(env)


def test_security_settings_that_the_protocol_does_not_use() -> None:
    env = {
        **WORKER,
        "BLACKLODGE_KAFKA_SASL_USERNAME": "fraud",
        "BLACKLODGE_KAFKA_SSL_CA_LOCATION": __file__,
        "BLACKLODGE_KAFKA_SSL_KEY_LOCATION": __file__,
    }
    assert rendered(env) == "\n".join(
        [
            "error: 3 problems in the harness configuration",
            "  - BLACKLODGE_KAFKA_SASL_USERNAME is set but BLACKLODGE_KAFKA_SECURITY_PROTOCOL=plaintext does not use SASL: set it to "
            "sasl_ssl (or sasl_plaintext).",
            "  - BLACKLODGE_KAFKA_SSL_CA_LOCATION, BLACKLODGE_KAFKA_SSL_KEY_LOCATION are set but BLACKLODGE_KAFKA_SECURITY_PROTOCOL=plaintext "
            "does not use TLS: set it to ssl (or sasl_ssl).",
            "  - BLACKLODGE_KAFKA_SSL_CERTIFICATE_LOCATION and BLACKLODGE_KAFKA_SSL_KEY_LOCATION go together: mutual TLS needs the "
            "client certificate and its key.",
            FIX,
        ]
    )


def test_secrets_from_files(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("s3cr3t\n")
    key_password = tmp_path / "key-password"
    key_password.write_text("k3y")
    settings = load_settings(
        {
            **WORKER,
            "BLACKLODGE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "BLACKLODGE_KAFKA_SASL_MECHANISM": "scram-sha-512",
            "BLACKLODGE_KAFKA_SASL_USERNAME": "fraud",
            "BLACKLODGE_KAFKA_SASL_PASSWORD_FILE": str(password),
            "BLACKLODGE_KAFKA_SSL_CA_LOCATION": __file__,
            "BLACKLODGE_KAFKA_SSL_CERTIFICATE_LOCATION": __file__,
            "BLACKLODGE_KAFKA_SSL_KEY_LOCATION": __file__,
            "BLACKLODGE_KAFKA_SSL_KEY_PASSWORD_FILE": str(key_password),
        }
    )
    assert settings.kafka_sasl_password == "s3cr3t"  # the trailing newline of the file is not part of it
    assert settings.kafka_ssl_key_password == "k3y"
    assert "s3cr3t" not in repr(settings) and "k3y" not in repr(settings)
    config = client_config(settings)
    assert {k: v for k, v in config.items() if k != "logger"} == {
        "bootstrap.servers": "kafka-0:9092",
        "client.id": "blacklodge-model",
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "fraud",
        "sasl.password": "s3cr3t",
        "ssl.ca.location": __file__,
        "ssl.certificate.location": __file__,
        "ssl.key.location": __file__,
        "ssl.key.password": "k3y",
    }


def test_a_secret_and_its_file_are_exclusive_and_bad_files_are_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {
        **WORKER,
        "BLACKLODGE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "BLACKLODGE_KAFKA_SASL_MECHANISM": "PLAIN",
        "BLACKLODGE_KAFKA_SASL_USERNAME": "fraud",
        "BLACKLODGE_KAFKA_SASL_PASSWORD": "hunter2",
        "BLACKLODGE_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "missing"),
        "BLACKLODGE_KAFKA_SSL_KEY_PASSWORD_FILE": str(empty),
    }
    message = rendered(env)
    assert message == "\n".join(
        [
            "error: 3 problems in the harness configuration",
            f"  - BLACKLODGE_KAFKA_SASL_PASSWORD_FILE='{tmp_path / 'missing'}' is invalid: expected a readable UTF-8 file holding the secret.",
            f"  - BLACKLODGE_KAFKA_SSL_KEY_PASSWORD_FILE='{empty}' is invalid: expected a file holding the secret (this one is empty).",
            "  - BLACKLODGE_KAFKA_SASL_PASSWORD and BLACKLODGE_KAFKA_SASL_PASSWORD_FILE are both set: set only one of them (the file is preferred).",
            FIX,
        ]
    )
    assert "hunter2" not in message


def test_client_settings_keep_the_delivery_guarantee() -> None:
    settings = load_settings({**WORKER, "BLACKLODGE_KAFKA_SESSION_TIMEOUT": "6"}, worker=True)
    assert consumer_config(settings) == {
        "group.id": "model",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 2000,
        "partition.assignment.strategy": "cooperative-sticky",
        "isolation.level": "read_committed",
    }
    assert producer_config() == {"acks": "all", "enable.idempotence": True, "linger.ms": 5, "message.timeout.ms": 0}


def test_the_worker_command_reports_configuration_problems_with_exit_3() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLACKLODGE_")}
    env.update({**BASE, "BLACKLODGE_KAFKA_TOPIC": "orders"})
    result = subprocess.run([sys.executable, "-m", "blacklodge_harness", "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == "\n".join(
        [
            "error: 3 problems in the harness configuration",
            "  - BLACKLODGE_KAFKA_TOPIC is not a setting of the harness. Did you mean BLACKLODGE_KAFKA_TOPICS?",
            "  - BLACKLODGE_KAFKA_BOOTSTRAP_SERVERS is not set: expected the Kafka brokers as host:port[,host:port...], e.g. kafka-0.kafka:9092.",
            "  - BLACKLODGE_KAFKA_TOPICS is not set: expected the input topics, comma-separated (set them in the build config's [kafka] "
            "table as topics = [...], or in the container's environment).",
            FIX,
            "",
        ]
    )


def test_a_worker_whose_entry_point_does_not_load_exits_4(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLACKLODGE_")}
    env.update(
        {
            **WORKER,
            "BLACKLODGE_ENTRYPOINT": "funcs:nope",
            "BLACKLODGE_HOST": "127.0.0.1",
            "BLACKLODGE_ADMIN_PORT": str(free_port()),
            "BLACKLODGE_LOG_FORMAT": "text",
        }
    )
    result = subprocess.run([sys.executable, "-m", "blacklodge_harness", "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 4
    assert "CRITICAL [-] blacklodge.kafka: cannot load the entry point: error: Entry point 'funcs:nope' not found" in result.stdout


def test_a_worker_whose_admin_port_is_taken_exits_6() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BLACKLODGE_")}
        env.update({**WORKER, "BLACKLODGE_HOST": "127.0.0.1", "BLACKLODGE_ADMIN_PORT": str(port), "BLACKLODGE_LOG_FORMAT": "text"})
        result = subprocess.run([sys.executable, "-m", "blacklodge_harness", "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 6
    assert (
        f"CRITICAL [-] blacklodge.kafka: cannot listen on 127.0.0.1:{port} for the admin server (probes, metrics): "
        "[Errno 98] Address already in use"
    ) in result.stdout
