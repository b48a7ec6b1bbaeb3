"""The mode-independent core: load the entry point, call it, encode its result.

Every mode (``web``, ``job``, and a Kafka worker) is a thin adapter over these
pieces:

* :class:`Handler` owns the user's entry point in one process: import,
  instantiate (classes), ``load()``, readiness, calls, ``shutdown()``.
* :class:`Context` is what a handler may receive as its second argument.
* :class:`Invoker` runs calls on a pool of daemon threads with a deadline, so a
  call that overruns is answered as a timeout while the process stays healthy
  (the call itself cannot be interrupted in Python and finishes in the
  background).
* :func:`encode_json` turns a result into JSON bytes, accepting the types data
  code returns (NumPy arrays and scalars, dataclasses, pydantic models,
  objects with ``to_dict()``, sets, datetimes, ...).
* :class:`HandlerMetrics` are the call counters and latency shared by modes.

A Kafka worker would reuse all of them: ``Handler`` for the lifecycle,
``Invoker`` for per-message deadlines, ``Context`` with ``mode="kafka"`` and
the record coordinates in ``metadata``, ``logs.bind`` for coordinates on every
log line, and ``HandlerMetrics`` in its registry.
"""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import datetime
import decimal
import enum
import inspect
import itertools
import json
import logging
import os
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path, PurePath
from typing import Any
from collections.abc import Callable, Mapping

from blacklodge_harness import logs
from blacklodge_harness.entrypoint import CallStyle, EntryPoint, make_caller, resolve
from blacklodge_harness.errors import BadInput
from blacklodge_harness.metrics import Registry

log = logging.getLogger("blacklodge.core")


# --------------------------------------------------------------------------- errors


class CallTimeout(Exception):
    """The handler did not return before the deadline (it keeps running)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"the handler did not finish within {timeout:g}s")
        self.timeout = timeout


class HandlerFailed(Exception):
    """The handler raised; ``__cause__`` is the original exception."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.exc = exc
        self.type_name = type(exc).__name__


class HandlerReportedError(Exception):
    """The handler returned a PlanQK ``ErrorResponse`` (``code`` and ``detail``)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class ResultNotSerializable(Exception):
    """The result cannot be represented as JSON."""


class NotReady(Exception):
    """The handler has not finished loading (or failed to)."""


# --------------------------------------------------------------------------- context


def _new_id_prefix() -> None:
    global _ID_PREFIX, _ID_COUNTER
    _ID_PREFIX = os.urandom(8).hex()
    _ID_COUNTER = itertools.count()


_ID_PREFIX = ""
_ID_COUNTER = itertools.count()
_new_id_prefix()
# gunicorn forks its workers from a master that has imported this module: each process
# needs its own prefix, or two workers would hand out the same ids.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_id_prefix)


def new_request_id() -> str:
    """A new id, unique across processes: 32 hex characters.

    The first 16 are random, drawn once per process (again in every forked child); the last
    16 count the ids this process made. Ids have to be unique, not secret: this needs no
    system call per request (``os.urandom`` did), and ids of one process sort by creation.
    Two processes share a prefix with probability about n²/2⁶⁵ for n processes.
    """
    return "%s%016x" % (_ID_PREFIX, next(_ID_COUNTER))


@dataclasses.dataclass(frozen=True)
class Context:
    """Per-call information, passed as a handler's second argument.

    ``headers``
        HTTP request headers (case-insensitive) or Kafka record headers; empty in job mode.
    ``metadata``
        Mode-specific facts: HTTP ``method``/``path``/``content_type``; job ``source``
        (and ``line`` for JSON lines); Kafka ``topic``/``partition``/``offset``/``key``.
    ``params``
        Job mode: the PlanQK ``params`` document (``{}`` when absent). Empty otherwise.
    ``logger``
        A logger named after the entry point's module; lines carry the request id.
    ``deadline``
        ``time.monotonic()`` value after which the caller stops waiting, or ``None``.
    """

    request_id: str
    mode: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    logger: logging.Logger = dataclasses.field(default_factory=lambda: logging.getLogger("app"))
    deadline: float | None = None

    def remaining_time(self) -> float | None:
        """Seconds left before the deadline (never negative), or ``None`` without one."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())


# --------------------------------------------------------------------------- handler


class HandlerState(enum.Enum):
    CREATED = "created"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    STOPPED = "stopped"


class Handler:
    """The user's entry point in this process.

    ``start()`` imports the module, instantiates a class entry point and runs its
    ``load()``; until it returns :meth:`is_loaded` is false. ``call()`` invokes the
    function or method in the configured style; ``shutdown()`` runs the class's
    ``shutdown()`` once.
    """

    def __init__(self, spec: str, app_dir: Path | None = None) -> None:
        self.spec = spec
        self.app_dir = app_dir
        self.entry: EntryPoint | None = None
        self.instance: Any = None
        self.state = HandlerState.CREATED
        self.failure: BaseException | None = None
        self._call: Callable[..., Any] | None = None
        #: The entry point's call style once loaded (None before).
        self._style: CallStyle | None = None
        #: Whether calls pass a :class:`Context` (so building one can be skipped otherwise).
        self.wants_context = False
        self._lock = threading.Lock()
        self.logger = logging.getLogger(spec.partition(":")[0] or "app")

    # -- lifecycle

    def start(self) -> None:
        """Import, instantiate and load. Raises what failed (EntryPointError or the user's exception)."""
        self.state = HandlerState.LOADING
        started = time.monotonic()
        try:
            entry = resolve(self.spec, self.app_dir)
            self.entry = entry
            if entry.kind == "class":
                self.instance = entry.target()
                if "load" in entry.lifecycle:
                    log.info("running %s.load()", entry.attr)
                    _run_maybe_async(self.instance.load)
            self._call = make_caller(entry, self.instance)
            self._style = entry.style
            self.wants_context = entry.style in (CallStyle.PAYLOAD_CONTEXT, CallStyle.PAYLOAD_CONTEXT_KEYWORD)
        except BaseException as exc:
            self.state = HandlerState.FAILED
            self.failure = exc
            raise
        self.state = HandlerState.READY
        log.info(
            "entry point %s loaded (%s, %s) in %.2fs",
            self.spec,
            entry.kind,
            entry.call,
            time.monotonic() - started,
        )

    def start_in_background(self, on_failure: Callable[[BaseException], None]) -> threading.Thread:
        """Run :meth:`start` on a daemon thread, so the process answers probes while loading."""

        def run() -> None:
            try:
                self.start()
            except BaseException as exc:  # noqa: BLE001 - reported through on_failure
                on_failure(exc)

        thread = threading.Thread(target=run, name="blacklodge-load", daemon=True)
        thread.start()
        return thread

    def is_loaded(self) -> bool:
        return self.state is HandlerState.READY

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason). Consults the class's ``ready()`` when it has one."""
        if self.state is HandlerState.LOADING or self.state is HandlerState.CREATED:
            return False, "loading"
        if self.state is HandlerState.FAILED:
            return False, "load failed"
        if self.state is HandlerState.STOPPED:
            return False, "stopped"
        if self.entry is not None and "ready" in self.entry.lifecycle:
            try:
                if not bool(self.instance.ready()):
                    return False, "ready() returned false"
            except Exception as exc:  # noqa: BLE001 - a failing probe means not ready
                log.warning("ready() raised %s: %s", type(exc).__name__, exc)
                return False, f"ready() raised {type(exc).__name__}"
        return True, "ready"

    def shutdown(self) -> None:
        with self._lock:
            if self.state is HandlerState.STOPPED:
                return
            was_loaded = self.state is HandlerState.READY
            self.state = HandlerState.STOPPED
        if was_loaded and self.entry is not None and "shutdown" in self.entry.lifecycle:
            try:
                log.info("running %s.shutdown()", self.entry.attr)
                _run_maybe_async(self.instance.shutdown)
            except Exception:  # noqa: BLE001
                log.exception("shutdown() raised")

    # -- calls

    @property
    def style(self) -> CallStyle:
        if self.entry is None:
            raise NotReady("the entry point is not loaded")
        return self.entry.style

    def context(self, request_id: str, mode: str, **kwargs: Any) -> Context:
        return Context(request_id=request_id, mode=mode, logger=self.logger, **kwargs)

    def call(self, payload: Any, context: Context | None) -> Any:
        """Call the entry point. For the data/params style ``payload`` is ``{"data": ..., "params": ...}``.

        ``context`` may be None when the style takes none (see :attr:`wants_context`);
        a default one is made otherwise.

        Raises :class:`BadInput` (passed through), :class:`HandlerFailed`,
        :class:`HandlerReportedError`, or :class:`NotReady`.
        """
        # READY implies _call and _style are set (start() sets them first).
        if self.state is not HandlerState.READY:
            raise NotReady("the entry point is not loaded")
        style = self._style
        call: Callable[..., Any] = self._call  # type: ignore[assignment] # READY implies it is set (see above); no check on the hot path
        try:
            if style is CallStyle.PAYLOAD:
                result = call(payload)
            elif style is CallStyle.DATA_PARAMS:
                data, params = split_data_params(payload)
                result = call(data, params)
            elif style is CallStyle.PAYLOAD_CONTEXT:
                result = call(payload, context or self.context(logs.current_request_id() or "-", "http"))
            else:  # PAYLOAD_CONTEXT_KEYWORD
                result = call(payload, context=context or self.context(logs.current_request_id() or "-", "http"))
            if type(result) in _PLAIN_RESULTS:
                # Neither awaitable nor a PlanQK ErrorResponse: the common case, checked cheaply.
                return result
        except BadInput:
            raise
        except Exception as exc:  # noqa: BLE001 - any user exception is a handler failure
            raise HandlerFailed(exc) from exc
        return self.finish(result)

    def direct(self) -> Callable[[Any], Any] | None:
        """The entry point itself when :meth:`call` would only pass the payload to it (loaded,
        payload style), else None. For a loop calling it per record: ``fn(payload)``; what it
        raises other than :class:`BadInput` counts as ``HandlerFailed(exc)``, and a result whose
        type is not in :data:`PLAIN_RESULTS` goes through :meth:`finish`."""
        if self.state is not HandlerState.READY or self._style is not CallStyle.PAYLOAD:
            return None
        return self._call

    def finish(self, result: Any) -> Any:
        """The end of :meth:`call` for a result that may be awaitable or a PlanQK ErrorResponse."""
        if type(result) not in _PLAIN_RESULTS:
            try:
                if inspect.isawaitable(result):
                    result = _await(result)
            except BadInput:
                raise
            except Exception as exc:  # noqa: BLE001 - any user exception is a handler failure
                raise HandlerFailed(exc) from exc
        reported = planqk_error(result)
        if reported is not None:
            raise reported
        return result


#: Result types that can be neither awaited nor a PlanQK ``ErrorResponse``.
_PLAIN_RESULTS = PLAIN_RESULTS = frozenset({dict, list, tuple, str, bytes, bytearray, int, float, bool, type(None)})


def _await(awaitable: Any) -> Any:
    import asyncio  # imported by the first awaitable result: not on every start

    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())


def _run_maybe_async(fn: Callable[[], Any]) -> Any:
    result = fn()
    return _await(result) if inspect.isawaitable(result) else result


def split_data_params(payload: Any) -> tuple[Any, dict[str, Any]]:
    """``{"data": ..., "params": {...}}`` -> (data, params). Raises BadInput when malformed."""
    if not isinstance(payload, dict):
        raise BadInput('expected a JSON object {"data": ..., "params": {...}}')
    unknown = sorted(set(payload) - {"data", "params"})
    if unknown:
        raise BadInput(f'unexpected key(s) {", ".join(unknown)}: expected {{"data": ..., "params": {{...}}}}')
    if "data" not in payload:
        raise BadInput('missing "data": expected {"data": ..., "params": {...}}')
    params = payload.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise BadInput('"params" must be a JSON object')
    return payload["data"], params


def planqk_error(result: Any) -> HandlerReportedError | None:
    """A PlanQK template ``ErrorResponse`` (duck-typed: ``code`` and ``detail``) as an error."""
    if type(result).__name__ == "ErrorResponse" and hasattr(result, "code") and hasattr(result, "detail"):
        return HandlerReportedError(str(result.code), str(result.detail))
    return None


# --------------------------------------------------------------------------- results


def _jsonable(obj: Any) -> Any:
    """``json.dumps`` fallback for the types data code commonly returns."""
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(obj)).decode("ascii")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    for method, kwargs in (("tolist", {}), ("model_dump", {"mode": "json"}), ("to_dict", {})):
        fn = getattr(obj, method, None)
        if callable(fn):
            return fn(**kwargs)
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        text = to_json()
        return json.loads(text) if isinstance(text, (str, bytes)) else text
    if type(obj).__name__ in ("ResultResponse", "ErrorResponse") and hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


#: Made once: ``json.dumps`` with any non-default option builds a new encoder per call.
_ENCODER = json.JSONEncoder(default=_jsonable, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


#: ``encode_json`` without the translation of its errors: ``json_text(value).encode("utf-8")``
#: may raise :data:`ENCODING_ERRORS`, which :func:`not_serializable` explains.
json_text = _ENCODER.encode
ENCODING_ERRORS = (ValueError, TypeError, RecursionError)


def not_serializable(exc: BaseException) -> ResultNotSerializable:
    """The :class:`ResultNotSerializable` for an error of :data:`json_text`."""
    if isinstance(exc, ValueError) and "Out of range float" in str(exc):
        return ResultNotSerializable("the result contains NaN or Infinity, which JSON cannot represent")
    return ResultNotSerializable(f"the result cannot be encoded as JSON: {exc}")


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON. Raises :class:`ResultNotSerializable` with the reason."""
    try:
        return json_text(value).encode("utf-8")
    except ENCODING_ERRORS as exc:
        raise not_serializable(exc) from exc


# --------------------------------------------------------------------------- invoker


class DaemonThreadPool:
    """A fixed pool of daemon threads returning ``concurrent.futures.Future``.

    Unlike ``ThreadPoolExecutor``, interpreter exit does not wait for its threads,
    so a call that overran its deadline cannot keep a stopping process alive.
    """

    def __init__(self, size: int, name: str = "blacklodge-call") -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(size)]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - delivered through the future
                future.set_exception(exc)

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, fn))
        return future

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(None)


class HandlerMetrics:
    """Call counters and latency, the same in every mode."""

    def __init__(self, registry: Registry) -> None:
        self.calls = registry.counter(
            "blacklodge_handler_calls_total",
            "Handler calls by outcome (ok, bad_input, error, timeout).",
            ["outcome"],
        )
        self.duration = registry.histogram(
            "blacklodge_handler_duration_seconds",
            "Time spent in the handler, for calls that returned or raised before the deadline.",
        )
        self.abandoned = registry.gauge(
            "blacklodge_handler_calls_abandoned",
            "Calls that overran the deadline and are still running in the background.",
        )


class Invoker:
    """Runs handler calls on a daemon pool, waiting at most ``timeout`` seconds.

    The pool has ``2 * concurrency`` threads, so calls that overran their deadline
    and still run do not immediately starve new ones. When every pool thread is
    held by an overrunning call, :meth:`saturated` is true (liveness fails).
    """

    def __init__(self, handler: Handler, *, concurrency: int, timeout: float, metrics: HandlerMetrics) -> None:
        self.handler = handler
        self.timeout = timeout
        self.metrics = metrics
        self.size = max(2, 2 * concurrency)
        self._pool = DaemonThreadPool(self.size)
        self._abandoned = 0
        self._lock = threading.Lock()

    def saturated(self) -> bool:
        return self._abandoned >= self.size

    def _finish_abandoned(self, future: Future[Any]) -> None:
        with self._lock:
            self._abandoned -= 1
        self.metrics.abandoned.dec()
        log.warning("a call that overran its deadline has finished (%s)", "raised" if future.exception() else "returned")

    def call(self, payload: Any, context: Context | None) -> Any:
        """Call the handler; raises CallTimeout, HandlerFailed, HandlerReportedError, BadInput, NotReady."""
        if self.timeout <= 0:
            # No deadline to enforce: handing the call to another thread would only cost
            # a thread switch per request.
            return call_directly(self.handler, payload, context, self.metrics)
        started = time.monotonic()
        # Copy the context so the request id bound by the caller reaches the handler's log lines.
        ctx = contextvars.copy_context()
        future = self._pool.submit(lambda: ctx.run(self.handler.call, payload, context))
        wait: float | None = None
        if self.timeout > 0:
            deadline = context.deadline if context is not None and context.deadline is not None else started + self.timeout
            wait = max(0.0, deadline - time.monotonic())
        try:
            result = future.result(timeout=wait)
        except FutureTimeout:
            with self._lock:
                self._abandoned += 1
            self.metrics.abandoned.inc()
            self.metrics.calls.inc(outcome="timeout")
            future.add_done_callback(self._finish_abandoned)
            raise CallTimeout(self.timeout) from None
        except BadInput:
            self._record(started, "bad_input")
            raise
        except (HandlerFailed, HandlerReportedError):
            self._record(started, "error")
            raise
        self._record(started, "ok")
        return result

    def _record(self, started: float, outcome: str) -> None:
        self.metrics.calls.inc(outcome=outcome)
        self.metrics.duration.observe(time.monotonic() - started)

    def shutdown(self) -> None:
        self._pool.shutdown()


def call_directly(
    handler: Handler, payload: Any, context: Context | None, metrics: HandlerMetrics | None = None
) -> Any:
    """Call on the current thread (job mode), recording metrics when given."""
    started = time.monotonic()
    outcome = "ok"
    try:
        with logs.bind(request_id=context.request_id if context is not None else logs.current_request_id()):
            return handler.call(payload, context)
    except BadInput:
        outcome = "bad_input"
        raise
    except (HandlerFailed, HandlerReportedError):
        outcome = "error"
        raise
    finally:
        if metrics is not None:
            metrics.calls.inc(outcome=outcome)
            metrics.duration.observe(time.monotonic() - started)
