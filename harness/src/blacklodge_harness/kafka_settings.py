"""The worker's settings as librdkafka configuration: what the consumer and the producer
share (brokers, security, logging), and what each needs for the delivery guarantee."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from blacklodge_harness.config import Settings





class _Throttle(logging.Filter):
    """Lets a message through at most once per ``interval`` seconds (numbers in it ignored):
    librdkafka repeats the same complaint many times a second while a broker is away."""

    def __init__(self, interval: float = 30.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = re.sub(r"\d+", "#", record.getMessage())
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.interval:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        return True


_client_log = logging.getLogger("blacklodge.kafka.client")
_client_log.addFilter(_Throttle())


def client_config(settings: Settings) -> dict[str, Any]:
    """What the consumer and the producer share: brokers, security, logging."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "client.id": f"blacklodge-{settings.app_name}",
        "security.protocol": settings.kafka_security_protocol,
        "logger": _client_log,
    }
    optional = {
        "sasl.mechanism": settings.kafka_sasl_mechanism,
        "sasl.username": settings.kafka_sasl_username,
        "sasl.password": settings.kafka_sasl_password,
        "ssl.ca.location": settings.kafka_ssl_ca_location,
        "ssl.certificate.location": settings.kafka_ssl_certificate_location,
        "ssl.key.location": settings.kafka_ssl_key_location,
        "ssl.key.password": settings.kafka_ssl_key_password,
    }
    config.update({key: str(value) for key, value in optional.items() if value is not None})
    return config


def consumer_config(settings: Settings) -> dict[str, Any]:
    session_ms = int(settings.kafka_session_timeout * 1000)
    return {
        "group.id": settings.kafka_group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": settings.kafka_auto_offset_reset,
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(100, min(3000, session_ms // 3)),
        # Only the partitions that move are revoked in a rebalance; the others keep working.
        "partition.assignment.strategy": "cooperative-sticky",
        "isolation.level": "read_committed",
    }


def producer_config() -> dict[str, Any]:
    return {
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        # Never give up on a record while the brokers are away: an outage is waited out.
        "message.timeout.ms": 0,
    }

