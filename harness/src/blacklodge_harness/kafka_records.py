"""The Kafka worker's vocabulary: exit codes, header names, limits, the exceptions that end
a record or the worker, and the per-record helpers (request ids, headers, result encoding)."""

from __future__ import annotations

import logging
from typing import Any
from collections.abc import Iterator

from confluent_kafka import Message, TopicPartition

from blacklodge_harness.core import HandlerFailed, encode_json, new_request_id
from blacklodge_harness.errors import BadInput
from blacklodge_harness.pipeline import REQUEST_ID_RE

log = logging.getLogger("blacklodge.kafka")

EXIT_OK = 0
#: A record failed (see above) and no dead-letter topic is configured.
EXIT_MESSAGE_FAILED = 1
#: The entry point could not be imported, instantiated or loaded.
EXIT_LOAD_FAILED = 4
#: Kafka refused the work: a record was not delivered, or the client hit a fatal error.
EXIT_KAFKA_FAILED = 5
#: The admin port could not be bound.
EXIT_ADMIN_PORT = 6

SOURCE_TOPIC = "blacklodge-source-topic"
SOURCE_PARTITION = "blacklodge-source-partition"
SOURCE_OFFSET = "blacklodge-source-offset"
REQUEST_ID = "x-request-id"
ERROR_TYPE = "blacklodge-error-type"
ERROR_MESSAGE = "blacklodge-error-message"
#: Headers the worker sets itself: an input's own values for these are replaced.
OWN_HEADERS = frozenset({SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET, REQUEST_ID, ERROR_TYPE, ERROR_MESSAGE})

#: Records fetched per poll, and handed to a processing thread per turn.
POLL_BATCH = 500
TURN_BATCH = 64
#: A partition with this many queued records is paused until its queue is down to half
#: (pausing drops what the client fetched ahead for it, so not too often).
MAX_QUEUED = 2000
#: Records of a poll processed on the polling thread before the rest go to the processing
#: threads: at most this many seconds (the loop must turn to serve rebalances and acknowledgements).
INLINE_BUDGET = 0.1
#: A call on the polling thread running this long hands the poll loop to a new thread.
INLINE_LIMIT = 0.5
#: Calls averaging this long are processed on the processing threads from then on.
INLINE_SLOW = 0.002
#: Longest wait between retries.
MAX_BACKOFF = 30.0
#: Liveness fails when the poll loop has not turned for this long.
STALL_AFTER = 60.0
#: Longest error message put in a dead-letter header.
MAX_ERROR_MESSAGE = 1000

TP = tuple[str, int]
#: Record headers as the client gives and takes them (values are bytes when consumed).
Headers = list[tuple[str, str | bytes | None]]


class Failure(Exception):
    """Why the worker stops with an error: exit code and the message for the log."""

    def __init__(self, code: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


class Overran(Exception):
    """The call overran its deadline: the deadline thread handed the partition to another
    processing thread, and this one ends once the call returns."""


class Permanent(Exception):
    """A record that no retry can fix: ``error_type`` goes into the dead-letter headers."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


# --------------------------------------------------------------------------- helpers


def request_id_of(headers: Headers) -> str:
    for name, value in headers:
        if name.lower() == REQUEST_ID and value:
            candidate = header_text(value)
            if REQUEST_ID_RE.match(candidate):
                return candidate
    return new_request_id()


def header_text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def pass_through(headers: Headers) -> Headers:
    if not headers:
        return []
    return [(name, value) for name, value in headers if name.lower() not in OWN_HEADERS]


def provenance(source: Headers, offset: int, request_id: str) -> Headers:
    """``source`` (the partition's topic and number headers, see kafka_state.Partition), then
    the offset and the request id."""
    return [*source, (SOURCE_OFFSET, str(offset).encode()), (REQUEST_ID, request_id.encode())]


#: Result types that are one record (checked before the slower ``isinstance(..., Iterator)``).
_SINGLE = frozenset({dict, list, tuple, str, bytes, bytearray, int, float, bool})


def encode_all(result: Any) -> list[bytes]:
    """None -> no record; an iterator (a generator) -> one record per item; else one record."""
    if result is None:
        return []
    if type(result) in _SINGLE:
        return [encode(result)]
    if isinstance(result, Iterator):
        try:
            items = [item for item in result if item is not None]
        except BadInput:
            raise
        except Exception as exc:  # noqa: BLE001 - raised by the handler's generator
            raise HandlerFailed(exc) from exc
        return [encode(item) for item in items]
    return [encode(result)]


def encode(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return encode_json(value)


def where(message: Message) -> str:
    return f"{message.topic()}/{message.partition()} offset {message.offset()}"


def names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{p.topic}/{p.partition}" for p in partitions)


def positions_text(positions: dict[TP, int]) -> str:
    return ", ".join(f"{t}/{p}@{o}" for (t, p), o in sorted(positions.items()))


