"""The mode-independent core: lifecycle, call styles, results, timeouts."""

from __future__ import annotations

import os
import re
import sys
import time

import pytest

from blacklodge_harness.core import (
    CallTimeout,
    Context,
    Handler,
    HandlerFailed,
    HandlerMetrics,
    HandlerReportedError,
    HandlerState,
    Invoker,
    NotReady,
    ResultNotSerializable,
    encode_json,
    new_request_id,
    split_data_params,
)
from blacklodge_harness.errors import BadInput, EntryPointError
from blacklodge_harness.metrics import Registry

from conftest import APPS


def started(spec: str) -> Handler:
    handler = Handler(spec, APPS)
    handler.start()
    return handler


def ctx(handler: Handler, **kwargs: object) -> Context:
    return handler.context("rid", "test", **kwargs)


def test_class_lifecycle_runs_in_order() -> None:
    handler = started("models:Model")
    models = sys.modules["models"]
    assert models.EVENTS[-2:] == ["init", "load"]
    assert handler.readiness() == (True, "ready")
    assert handler.call(1, ctx(handler)) == {"prediction": 1, "loaded": True}
    handler.shutdown()
    handler.shutdown()  # idempotent
    assert models.EVENTS[-1] == "shutdown" and models.EVENTS.count("shutdown") == 1
    assert handler.state is HandlerState.STOPPED


def test_call_styles() -> None:
    assert started("funcs:echo").call(1, Context("r", "t")) == {"echo": 1}
    handler = started("funcs:with_context")
    assert handler.call(None, ctx(handler, params={"a": 1}))["params"] == {"a": 1}
    assert started("funcs:run").call({"data": 1, "params": {"p": 2}}, Context("r", "t")) == {"data": 1, "params": {"p": 2}}
    assert started("signatures:optional_threshold").call(1, Context("r", "t")) == {"threshold": 0.5}
    assert started("funcs:async_echo").call(1, Context("r", "t")) == {"async": 1}


def test_handler_errors_are_wrapped() -> None:
    with pytest.raises(HandlerFailed) as info:
        started("funcs:fails").call(1, Context("r", "t"))
    assert info.value.type_name == "ValueError"
    with pytest.raises(BadInput):
        started("funcs:rejects").call(1, Context("r", "t"))
    with pytest.raises(HandlerReportedError):
        started("funcs:planqk_error").call({"data": 1}, Context("r", "t"))


def test_direct_is_the_entry_point_only_for_the_payload_style_and_finish_does_the_rest() -> None:
    echo = started("funcs:echo")
    direct = echo.direct()
    assert direct is not None and direct(1) == {"echo": 1}
    assert started("funcs:with_context").direct() is None
    assert started("funcs:run").direct() is None
    assert Handler("funcs:echo", APPS).direct() is None  # not loaded
    async_echo = started("funcs:async_echo")
    assert async_echo.finish(async_echo.direct()(1)) == {"async": 1}  # type: ignore[misc]
    assert echo.finish({"plain": 1}) == {"plain": 1}


def test_start_failures() -> None:
    handler = Handler("funcs:nope", APPS)
    with pytest.raises(EntryPointError):
        handler.start()
    assert handler.state is HandlerState.FAILED
    with pytest.raises(NotReady):
        handler.call(1, Context("r", "t"))
    failing = Handler("models:FailingLoad", APPS)
    with pytest.raises(RuntimeError, match="weights file missing"):
        failing.start()
    assert failing.readiness() == (False, "load failed")


def test_context_remaining_time() -> None:
    assert Context("r", "t").remaining_time() is None
    remaining = Context("r", "t", deadline=time.monotonic() + 10).remaining_time()
    assert remaining is not None and 9 < remaining <= 10
    assert Context("r", "t", deadline=time.monotonic() - 1).remaining_time() == 0.0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1], "expected a JSON object"),
        ({"data": 1, "extra": 2}, "unexpected key(s) extra"),
        ({"params": {}}, 'missing "data"'),
        ({"data": 1, "params": [1]}, '"params" must be a JSON object'),
    ],
)
def test_split_data_params_rejects(payload: object, message: str) -> None:
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        split_data_params(payload)


def test_encode_json() -> None:
    assert encode_json({"a": "é"}) == '{"a":"é"}'.encode()
    assert encode_json(b"\x00") == b'"AA=="'
    with pytest.raises(ResultNotSerializable, match="NaN"):
        encode_json(float("inf"))
    with pytest.raises(ResultNotSerializable, match="object"):
        encode_json(object())


def test_invoker_times_out_and_counts() -> None:
    handler = started("funcs:slow")
    metrics = HandlerMetrics(Registry())
    invoker = Invoker(handler, concurrency=1, timeout=0.1, metrics=metrics)
    with pytest.raises(CallTimeout):
        invoker.call({"seconds": 0.5}, Context("r", "t"))
    assert metrics.abandoned.value() == 1
    assert invoker.call({"seconds": 0}, Context("r", "t")) == {"slept": 0}
    deadline = time.monotonic() + 3
    while metrics.abandoned.value() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert metrics.abandoned.value() == 0
    assert metrics.calls.value(outcome="timeout") == 1
    assert metrics.calls.value(outcome="ok") == 1
    invoker.shutdown()


def test_invoker_without_timeout() -> None:
    handler = started("funcs:echo")
    invoker = Invoker(handler, concurrency=1, timeout=0, metrics=HandlerMetrics(Registry()))
    assert invoker.call(1, Context("r", "t")) == {"echo": 1}
    invoker.shutdown()


def test_request_ids_are_32_hex_unique_and_need_no_system_call(monkeypatch: pytest.MonkeyPatch) -> None:
    first = new_request_id()

    def no_urandom(n: int) -> bytes:
        raise AssertionError("os.urandom called per id")

    monkeypatch.setattr(os, "urandom", no_urandom)
    ids = [new_request_id() for _ in range(10000)]
    assert len(set(ids + [first])) == 10001
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    # One random prefix per process, then a counter: ids of a process sort by creation.
    assert {i[:16] for i in ids} == {first[:16]}
    assert ids == sorted(ids) and ids[0] > first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_request_ids_differ_in_forked_processes() -> None:
    """gunicorn forks its workers after the master imported the harness: every worker
    needs its own prefix."""
    parent = [new_request_id() for _ in range(3)]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write_end, " ".join(new_request_id() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    assert len(child) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in child)
    assert {i[:16] for i in child}.isdisjoint({i[:16] for i in parent})
    assert new_request_id()[:16] == parent[0][:16]
