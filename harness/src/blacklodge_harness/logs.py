"""Structured logging shared by every mode.

One handler on the root logger writes one line per record to the process's
real stdout: JSON by default (``timestamp``, ``level``, ``logger``,
``message``, ``mode``, ``request_id`` when known, any bound fields such as
Kafka coordinates, any ``extra=`` fields, ``exception``), or text.

The request id and other per-call fields live in context variables
(:func:`bind`), so every line logged while handling a call carries them,
including lines from the user's own ``logging`` calls and ``print``:
``sys.stdout`` / ``sys.stderr`` are replaced by :class:`LogStream`, which turns
each written line into a record of the ``stdout`` / ``stderr`` logger.

The harness never logs payloads, results, headers or query strings.
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
import re
import sys
import threading
import time
from contextlib import contextmanager
from types import MappingProxyType, TracebackType
from typing import Any, TextIO
from collections.abc import Iterator, Mapping

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("blacklodge_request_id", default=None)
_fields: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "blacklodge_log_fields", default=MappingProxyType({})
)
_mode = "none"
_time = time.time
_thread_state = threading.local()

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
    "mode",
    "taskName",
    "_blacklodge_bound",
}


def set_mode(mode: str) -> None:
    """Name of the running mode (``http``, ``job``, ``kafka``, ``validate``) put on every line."""
    global _mode
    _mode = mode


class LiveFields(dict[str, Any]):
    """Bound fields that a loop updates in place, plus the request id they go with: bound once
    with :func:`set_fields` for a batch of records (the Kafka worker: topic and partition per
    batch, the offset and ``request_id`` changed per record), instead of setting and resetting
    two context variables per record. Lines logged while it is bound carry its current values
    (copied when the line is logged); a :func:`bind` inside starts from them."""

    __slots__ = ("request_id",)

    def __init__(self, request_id: str | None = None, **fields: Any) -> None:
        super().__init__(fields)
        self.request_id = request_id


def current_request_id() -> str | None:
    bound = _fields.get()
    if type(bound) is LiveFields:
        return bound.request_id
    return _request_id.get()


#: ``set_request_id(request_id) -> token``: set the request id for this thread's context;
#: pass the token to ``reset_request_id(token)``. For frameworks whose request start and end
#: are separate callbacks (Flask's before/teardown hooks), where :func:`bind` cannot be used
#: as a block. The context variable's own methods: no Python frame on the request path.
set_request_id = _request_id.set
reset_request_id = _request_id.reset
#: ``set_fields(MappingProxyType({...})) -> token`` / ``reset_fields(token)``: the fields of
#: :func:`bind` (replacing, not merging with, the outer ones) without a context manager, for a
#: loop that binds once per batch (the Kafka worker binds a :class:`LiveFields`).
set_fields = _fields.set
reset_fields = _fields.reset


@contextmanager
def bind(request_id: str | None = None, **fields: Any) -> Iterator[None]:
    """Attach a request id and extra fields to every record logged inside the block.

    Nested binds add to (and may override) the outer fields.
    """
    outer = _fields.get()
    if request_id is None and type(outer) is LiveFields:
        request_id = outer.request_id  # the record being processed: fixed for the block
    id_token = _request_id.set(request_id) if request_id is not None else None
    merged = dict(outer)
    merged.update(fields)
    fields_token = _fields.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _fields.reset(fields_token)
        if id_token is not None:
            _request_id.reset(id_token)


class ContextFilter(logging.Filter):
    """Stamps the mode, the bound request id and the bound fields onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _fields.get()
        if getattr(record, "request_id", None) is None:
            record.request_id = bound.request_id if type(bound) is LiveFields else _request_id.get()
        record.mode = _mode
        if bound:
            record._blacklodge_bound = dict(bound)
        return True


#: (second, "YYYY-MM-DDTHH:MM:SS") of the last formatted timestamp: strftime once per second.
_last_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    global _last_second
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    cached = _last_second
    if cached[0] != seconds:
        cached = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
        _last_second = cached
    return f"{cached[1]}.{millis:03d}Z"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    extras: dict[str, Any] = dict(getattr(record, "_blacklodge_bound", {}) or {})
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRS and not key.startswith("_"):
            extras[key] = value
    return extras


#: The one JSON encoder of every log line, in every mode (web, job, worker, validate): the
#: formatter encodes each record's fields with it, and the access log its line's fixed parts
#: and any value that is not a plain string. Non-ASCII text is kept as is; a value JSON has no
#: type for becomes its ``str``.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
encode_log_json = _LINE_ENCODER.encode


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "mode": getattr(record, "mode", _mode),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return encode_log_json(entry)


class TextFormatter(logging.Formatter):
    """``2024-05-01T12:00:00.000Z INFO    [request-id] logger: message key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or "-"
        line = (
            f"{_timestamp(record.created)} {record.levelname:<7} [{request_id}] "
            f"{record.name}: {record.getMessage()}"
        )
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{key}={value}" for key, value in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


#: Strings the encoder writes unchanged between quotes (request ids accepted by the harness are).
_PLAIN_JSON_STRING = re.compile(r'[ !#-\[\]-~]*\Z')


#: At most this many seconds pass between an access line and its write to the output.
FLUSH_DELAY = 0.05
#: Queued access lines beyond which a request thread writes them out itself (the output is
#: slower than the requests: the requests wait for it, as with any other log line).
MAX_PENDING = 4096


#: The decimals of a duration in milliseconds by its hundredths (0-99), as ``repr`` writes
#: them: ``.0``, ``.01`` ... ``.1``, ``.11`` ...
_DECIMALS = tuple(f".{n // 10}" if n % 10 == 0 else f".{n:02d}" for n in range(100))


def duration_ms_text(seconds: float) -> str:
    """``seconds`` as milliseconds with at most two decimals, as JSON (``3.1``, ``0.05``, ``12.0``).

    The text ``repr(round(seconds * 1000, 2))`` gives, from integer arithmetic: ``round`` and
    ``repr`` of a float each convert it to decimal digits, the costliest step of an access line.
    """
    hundredths = int(seconds * 100_000 + 0.5)
    return f"{hundredths // 100}{_DECIMALS[hundredths % 100]}"


#: A queued access line: (time.time() at the end of the request, the line's fixed parts
#: before and after the request id, the request id or "", seconds the request took).
AccessEntry = tuple[float, tuple[str, str], str, float]


def format_access_lines(entries: list[AccessEntry]) -> str:
    """The JSON lines of queued access entries, in one string (the handler writes it at once).

    Formatting a batch in one loop, on the thread that writes it, costs a fraction of
    formatting each line on its request thread (bench/results/wrapper.md).
    """
    lines: list[str] = []
    append = lines.append
    last_ms = -1
    stamp = ""
    decimals = _DECIMALS
    for now, parts, request_id, seconds in entries:
        millisecond = int(now * 1000)
        if millisecond != last_ms:  # under load, consecutive lines share their millisecond
            last_ms = millisecond
            stamp = _timestamp(now)
        if not request_id:
            rid = ""
        elif _PLAIN_JSON_STRING.match(request_id):
            rid = f' "request_id": "{request_id}",'
        else:
            rid = f' "request_id": {encode_log_json(request_id)},'
        hundredths = int(seconds * 100_000 + 0.5)
        append(f'{{"timestamp": "{stamp}{parts[0]}{rid}{parts[1]}{hundredths // 100}{decimals[hundredths % 100]}}}\n')
    return "".join(lines)


class AccessLog:
    """Writes the access log line of an HTTP request (logger ``blacklodge.access``).

    The line is the one :class:`JsonFormatter` writes for the record
    ``logger.log(level, "%s %s %d", method, path, status, extra={...})`` (the same fields,
    the same encoder). When the harness's JSON handler on the root logger is the only place
    that record could go (no other handler or filter on the way, no bound fields), the
    request thread only queues the line's variable parts on the handler
    (:class:`_HarnessHandler`), which formats the queued lines in a batch
    (:func:`format_access_lines`, the fixed parts encoded once per level, method, path and
    status) and writes them: before any other line (so the order is kept), on flush, and at
    the latest after :data:`FLUSH_DELAY` (a thread). That skips creating, filtering and
    formatting a ``LogRecord``, the handler's lock and a write per request. In every other
    case the record goes through ``logging`` as usual.
    """

    def __init__(self, name: str = "blacklodge.access") -> None:
        self.logger = logging.getLogger(name)
        self._root = logging.getLogger()
        self._logger_json = encode_log_json(name)
        self._parts: dict[tuple[int, str, str, int, str], tuple[str, str]] = {}

    def _direct_handler(self) -> _HarnessHandler | None:
        logger = self.logger
        if logger.handlers or logger.filters or not logger.propagate:
            return None
        # Ancestors between the logger and the root would see the record too (looked up
        # each time: creating a "blacklodge" logger later changes the parent).
        ancestor = logger.parent
        while ancestor is not None and ancestor is not self._root:
            if ancestor.handlers or not ancestor.propagate:
                return None
            ancestor = ancestor.parent
        handlers = self._root.handlers
        if len(handlers) != 1:
            return None
        handler = handlers[0]
        if type(handler) is not _HarnessHandler or type(handler.formatter) is not JsonFormatter:
            return None
        for flt in handler.filters:
            if type(flt) is not ContextFilter:
                return None
        return handler

    def write(self, level: int, method: str, path: str, status: int, seconds: float, request_id: str | None) -> None:
        """Log one request that took ``seconds`` (written as ``duration_ms``)."""
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        handler = self._direct_handler()
        if handler is None or level < handler.level or _fields.get():
            logger.log(
                level,
                "%s %s %d",
                method,
                path,
                status,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": float(duration_ms_text(seconds)),
                    "request_id": request_id or _request_id.get(),
                },
            )
            return
        parts = self._parts.get((level, method, path, status, _mode)) or self._make_parts(level, method, path, status)
        pending = handler.pending
        pending.append((_time(), parts, request_id or "", seconds))  # atomic: no lock on the request path
        if handler.flusher is None or len(pending) > MAX_PENDING:
            handler.kick()

    def _make_parts(self, level: int, method: str, path: str, status: int) -> tuple[str, str]:
        """The fixed text of a line before and after its request id, encoded as JsonFormatter's entry would be."""
        parts = (
            f'", "level": "{logging.getLevelName(level).lower()}", "logger": {self._logger_json}, '
            f'"message": {encode_log_json(f"{method} {path} {status}")}, "mode": {encode_log_json(_mode)},',
            f' "method": {encode_log_json(method)}, "path": {encode_log_json(path)}, '
            f'"status": {status}, "duration_ms": ',
        )
        if len(self._parts) < 512:  # paths of unknown routes are unbounded
            self._parts[(level, method, path, status, _mode)] = parts
        return parts

    def flush(self) -> None:
        """Write out the queued access lines (the handler's flush)."""
        handler = self._direct_handler()
        if handler is not None:
            handler.flush()


def make_formatter(log_format: str) -> logging.Formatter:
    return TextFormatter() if log_format == "text" else JsonFormatter()


class LogStream(io.TextIOBase):
    """A text stream whose complete lines become log records.

    Partial lines are buffered per thread so concurrent ``print`` calls do not
    interleave. A write made while this thread is already emitting a record
    (for instance logging reporting its own failure on ``sys.stderr``) goes
    straight to ``fallback`` instead of recursing.
    """

    def __init__(self, logger_name: str, level: int, fallback: TextIO) -> None:
        super().__init__()
        self._logger = logging.getLogger(logger_name)
        self._level = level
        self.fallback = fallback
        self._buffers = threading.local()

    @property
    def encoding(self) -> str:  # type: ignore[override] # a property where TextIOBase has an attribute
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        # Code that writes to the descriptor directly (subprocesses, faulthandler)
        # bypasses the log format; that is the best that can be done for it.
        return self.fallback.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if getattr(_thread_state, "emitting", False):
            self.fallback.write(text)
            return len(text)
        buffered = getattr(self._buffers, "text", "") + text
        while "\n" in buffered:
            line, buffered = buffered.split("\n", 1)
            self._emit(line)
        self._buffers.text = buffered
        return len(text)

    def flush(self) -> None:
        pending = getattr(self._buffers, "text", "")
        if pending and not getattr(_thread_state, "emitting", False):
            self._buffers.text = ""
            self._emit(pending)

    def _emit(self, line: str) -> None:
        line = line.rstrip("\r")
        if not line.strip():
            return
        _thread_state.emitting = True
        try:
            self._logger.log(self._level, line)
        except Exception:  # noqa: BLE001 - a broken handler must not swallow the output
            self.fallback.write(line + "\n")
        finally:
            _thread_state.emitting = False


class _HarnessHandler(logging.StreamHandler):  # type: ignore[type-arg] # subscripting it at run time needs Python 3.11
    """The harness's handler on the root logger (a second setup replaces, rather than duplicates, it).

    Besides records it takes access lines (:class:`AccessLog`) in :attr:`pending`: they are
    formatted and written in one batch before the next record, on :meth:`flush`, and at the
    latest :data:`FLUSH_DELAY` seconds later by a thread, so a request costs neither the
    handler's lock nor a write of its own.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        #: Queued access lines: appended by any thread without a lock, taken from the front
        #: under the handler's lock.
        self.pending: list[AccessEntry] = []
        #: The thread writing queued lines within FLUSH_DELAY (started by the first line).
        self.flusher: threading.Thread | None = None
        self._flusher_lock = threading.Lock()

    def kick(self) -> None:
        """After queueing a line: start the flusher, or write the queue when it is too long."""
        if self.flusher is None:
            with self._flusher_lock:
                if self.flusher is None:
                    self.flusher = threading.Thread(target=self._flush_regularly, name="blacklodge-log-flush", daemon=True)
                    self.flusher.start()
        if len(self.pending) > MAX_PENDING:
            self.flush()

    def _write_pending(self) -> None:
        """Format and write the queued lines (the caller holds the handler's lock)."""
        pending = self.pending
        count = len(pending)
        if count:
            # Appends only add at the end: the first ``count`` entries are this batch.
            batch = pending[:count]
            del pending[:count]
            text = format_access_lines(batch)
            try:
                self.stream.write(text)
            except Exception:  # noqa: BLE001 - as logging does: report, never fail the caller
                self.handleError(logging.makeLogRecord({"msg": text.rstrip("\n"), "levelno": logging.INFO}))

    def emit(self, record: logging.LogRecord) -> None:
        # Called by handle() under the lock: the queued lines first, the order is kept.
        if self.pending:
            self._write_pending()
        super().emit(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr] # a Handler's lock exists once it is constructed
            if self.pending:
                self._write_pending()
            super().flush()

    def _flush_regularly(self) -> None:
        while True:
            time.sleep(FLUSH_DELAY)
            if self.pending:
                try:
                    self.flush()
                except (OSError, ValueError):  # the stream was closed or broke: nothing left to flush into
                    pass


class LoggingSetup:
    """What :func:`setup_logging` changed, so tests (and re-configuration) can undo it."""

    def __init__(self, handler: logging.Handler, saved_stdout: TextIO, saved_stderr: TextIO) -> None:
        self.handler = handler
        self._saved_stdout = saved_stdout
        self._saved_stderr = saved_stderr
        self._saved_excepthook = sys.excepthook
        self._saved_threading_hook = threading.excepthook

    def restore(self) -> None:
        logging.getLogger().removeHandler(self.handler)
        sys.stdout = self._saved_stdout
        sys.stderr = self._saved_stderr
        sys.excepthook = self._saved_excepthook
        threading.excepthook = self._saved_threading_hook
        logging.captureWarnings(False)


def _unwrap(stream: TextIO) -> TextIO:
    while isinstance(stream, LogStream):
        stream = stream.fallback
    return stream


def setup_logging(
    mode: str,
    *,
    log_format: str = "json",
    level: str = "info",
    capture_output: bool = True,
    stream: TextIO | None = None,
) -> LoggingSetup:
    """Route all logging (and, with ``capture_output``, print output) to ``stream``.

    ``stream`` defaults to the process's stdout as it was before any capture.
    """
    set_mode(mode)
    saved_stdout, saved_stderr = sys.stdout, sys.stderr
    target = _unwrap(stream if stream is not None else sys.stdout)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _HarnessHandler):
            root.removeHandler(existing)
    handler = _HarnessHandler(target)
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)

    setup = LoggingSetup(handler, saved_stdout, saved_stderr)
    if capture_output:
        sys.stdout = LogStream("stdout", logging.INFO, target)
        sys.stderr = LogStream("stderr", logging.WARNING, target)

    def log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        logging.getLogger("blacklodge").critical(
            "uncaught %s", exc_type.__name__, exc_info=(exc_type, exc, tb)
        )

    def log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        logging.getLogger("blacklodge").error(
            "uncaught %s in thread %s",
            args.exc_type.__name__,
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
        )

    sys.excepthook = log_uncaught
    threading.excepthook = log_uncaught_in_thread
    return setup
