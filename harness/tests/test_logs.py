"""Structured logs: fields, request ids, print capture."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from typing import Callable, Iterator, List

import pytest

from blacklodge_harness import logs


@pytest.fixture
def capture() -> Iterator[Callable[[], io.StringIO]]:
    """Call inside the test body: pytest re-installs its own sys.stdout between
    fixture setup and the test call, which would undo a capture made earlier."""
    setups: List[logs.LoggingSetup] = []

    def start() -> io.StringIO:
        stream = io.StringIO()
        setups.append(logs.setup_logging("test", log_format="json", level="debug", capture_output=True, stream=stream))
        return stream

    yield start
    for setup in reversed(setups):
        setup.restore()


def lines(stream: io.StringIO) -> List[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_fields(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()
    logging.getLogger("my.module").warning("hello %s", "world", extra={"user_field": 7})
    (entry,) = lines(captured)
    assert entry["level"] == "warning"
    assert entry["logger"] == "my.module"
    assert entry["message"] == "hello world"
    assert entry["mode"] == "test"
    assert entry["user_field"] == 7
    assert entry["timestamp"].endswith("Z") and "T" in entry["timestamp"]
    assert "request_id" not in entry


def test_request_id_and_bound_fields(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()
    with logs.bind(request_id="req-1", topic="in", partition=3):
        logging.getLogger("x").info("inside")
    logging.getLogger("x").info("outside")
    inside, outside = lines(captured)
    assert inside["request_id"] == "req-1"
    assert (inside["topic"], inside["partition"]) == ("in", 3)
    assert "request_id" not in outside and "topic" not in outside


def test_print_is_captured_with_request_id(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()
    with logs.bind(request_id="req-2"):
        print("from print")
        print("two\nlines")
        sys.stdout.write("partial ")
        sys.stdout.write("line\n")
        print("")  # blank lines are dropped
    entries = lines(captured)
    assert [e["message"] for e in entries] == ["from print", "two", "lines", "partial line"]
    assert all(e["logger"] == "stdout" and e["request_id"] == "req-2" for e in entries)


def test_stderr_is_captured_as_warning(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()
    print("careful", file=sys.stderr)
    (entry,) = lines(captured)
    assert (entry["logger"], entry["level"]) == ("stderr", "warning")


def test_exceptions_are_logged_as_one_record(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()
    try:
        raise KeyError("k")
    except KeyError:
        logging.getLogger("x").exception("failed")
    (entry,) = lines(captured)
    assert "Traceback" in entry["exception"] and "KeyError" in entry["exception"]


def test_no_recursion_when_a_handler_fails(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()
    class Exploding(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                raise RuntimeError("handler broke")
            except RuntimeError:
                self.handleError(record)  # what logging's own handlers do: report on sys.stderr

    broken = Exploding()
    logging.getLogger().addHandler(broken)
    try:
        print("still fine")  # logging reports the failure on sys.stderr, which is captured
    finally:
        logging.getLogger().removeHandler(broken)
    text = captured.getvalue()
    assert "still fine" in text
    assert "handler broke" in text  # logging's error report went to the real stream


def test_a_raising_handler_does_not_lose_the_line(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()

    class Raising(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("no handleError here")

    broken = Raising()
    logging.getLogger().addHandler(broken)
    try:
        print("kept")
    finally:
        logging.getLogger().removeHandler(broken)
    assert "kept" in captured.getvalue()


def test_thread_exceptions_are_logged(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()
    thread = threading.Thread(target=lambda: 1 / 0, name="worker-x")
    thread.start()
    thread.join()
    (entry,) = lines(captured)
    assert "ZeroDivisionError" in entry["message"] and "worker-x" in entry["message"]


def test_text_format() -> None:
    stream = io.StringIO()
    setup = logs.setup_logging("job", log_format="text", level="info", capture_output=False, stream=stream)
    try:
        with logs.bind(request_id="abc"):
            logging.getLogger("x").info("hi", extra={"k": 1})
    finally:
        setup.restore()
    line = stream.getvalue().strip()
    assert line.endswith("INFO    [abc] x: hi k=1")


def test_restore_puts_streams_back() -> None:
    before = sys.stdout
    setup = logs.setup_logging("test", stream=io.StringIO())
    assert sys.stdout is not before
    setup.restore()
    assert sys.stdout is before


def test_live_fields_are_read_when_a_line_is_logged(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()
    live = logs.LiveFields(topic="in", partition=2, offset=None)
    token = logs.set_fields(live)
    try:
        for offset, request_id in ((7, "req-7"), (8, "req-8")):
            live["offset"] = offset
            live.request_id = request_id
            logging.getLogger("x").info("record")
            print("printed")
            assert logs.current_request_id() == request_id
        with logs.bind(step="inner"):
            logging.getLogger("x").info("bound inside")
    finally:
        logs.reset_fields(token)
    logging.getLogger("x").info("outside")
    entries = lines(captured)
    assert [(e["message"], e.get("request_id"), e.get("topic"), e.get("partition"), e.get("offset"), e.get("step")) for e in entries] == [
        ("record", "req-7", "in", 2, 7, None),
        ("printed", "req-7", "in", 2, 7, None),
        ("record", "req-8", "in", 2, 8, None),
        ("printed", "req-8", "in", 2, 8, None),
        ("bound inside", "req-8", "in", 2, 8, "inner"),
        ("outside", None, None, None, None, None),
    ]
    assert logs.current_request_id() is None


@pytest.mark.parametrize("seconds", [0.0, 0.000004, 0.000005, 0.00001, 0.0001, 0.00012, 0.0031, 0.012, 0.0999, 1.23456, 12.0, 3600.5])
def test_access_duration_is_the_rounded_milliseconds(seconds: float) -> None:
    assert logs.duration_ms_text(seconds) == repr(round(seconds * 1000, 2))


def test_log_lines_of_every_kind_use_one_encoder(capture: Callable[[], io.StringIO]) -> None:
    captured = capture()
    logging.getLogger("blacklodge.access").info("é %s", "ü", extra={"value": object.__new__(type("Thing", (), {"__str__": lambda self: "thing"}))})
    (line,) = captured.getvalue().splitlines()
    assert '"message": "é ü"' in line  # non-ASCII kept, as in the access log's own lines
    assert json.loads(line)["value"] == "thing"
    assert logs.encode_log_json({"a": "ü"}) == '{"a": "ü"}'
