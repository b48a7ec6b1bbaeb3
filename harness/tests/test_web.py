"""HTTP mode through the Flask test client: every route and status code.

The test client calls the app's ``wsgi_app`` (the pipeline) as every server does. It
offers no early answer, so calls with a deadline go through the handler thread pool here;
the watchdog's path is tested in test_pipeline.py and, under granian, in test_server.py.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, Iterator, List

import pytest
from flask import Flask
from flask.testing import FlaskClient

from blacklodge_harness.config import Settings
from blacklodge_harness.core import HandlerState
from blacklodge_harness.metrics import MultiprocessStore
from blacklodge_harness.pipeline import Pipeline
from blacklodge_harness.tally import DRAIN_INTERVAL
from blacklodge_harness.web import create_app, get_runtime

from conftest import wait_until

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(settings_for: Callable[..., Settings]) -> Iterator[AppFactory]:
    apps: List[Flask] = []

    def make(spec: str, *, wait: bool = True, **env: str) -> Flask:
        app = create_app(settings_for(spec, **env))
        assert isinstance(app.wsgi_app, Pipeline)
        apps.append(app)
        if wait:
            handler = get_runtime(app).handler
            wait_until(lambda: handler.state in (HandlerState.READY, HandlerState.FAILED))
        return app

    yield make
    for app in apps:
        get_runtime(app).shutdown()


def post_json(client: FlaskClient, body: Any, **kwargs: Any) -> Any:
    return client.post("/predict", data=json.dumps(body), content_type="application/json", **kwargs)


def assert_error(response: Any, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["type"] == error_type
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in error["message"]
    return error


# ------------------------------------------------------------------ /predict happy paths


def test_predict_json_in_json_out(make_app: AppFactory) -> None:
    response = post_json(make_app("funcs:echo").test_client(), {"x": [1, 2]})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"echo": {"x": [1, 2]}}


def test_predict_passes_context(make_app: AppFactory) -> None:
    client = make_app("funcs:with_context").test_client()
    body = post_json(client, {}, headers={"X-Request-ID": "req-42"}).get_json()
    assert body["request_id"] == "req-42"
    assert body["mode"] == "http"
    assert body["has_remaining"] is True
    assert body["metadata"] == {"method": "POST", "path": "/predict", "content_type": "application/json"}


def test_predict_context_as_keyword_and_package_module(make_app: AppFactory) -> None:
    assert post_json(make_app("funcs:context_keyword").test_client(), 1).get_json() == {"mode": "http"}
    assert post_json(make_app("pkg.serving:handle").test_client(), 1).get_json() == {"pkg": True, "has_context": True}


def test_predict_class_entry_point(make_app: AppFactory) -> None:
    body = post_json(make_app("models:Model").test_client(), [1]).get_json()
    assert body == {"prediction": [1], "loaded": True}
    assert post_json(make_app("models:CallableModel").test_client(), 2).get_json() == {"called": 2}


def test_predict_async_handler(make_app: AppFactory) -> None:
    assert post_json(make_app("funcs:async_echo").test_client(), 3).get_json() == {"async": 3}


def test_predict_planqk_run(make_app: AppFactory) -> None:
    client = make_app("funcs:run").test_client()
    body = post_json(client, {"data": {"n": 1}, "params": {"shots": 10}}).get_json()
    assert body == {"data": {"n": 1}, "params": {"shots": 10}}
    assert post_json(client, {"data": 5}).get_json() == {"data": 5, "params": {}}


def test_predict_planqk_body_must_be_an_envelope(make_app: AppFactory) -> None:
    client = make_app("funcs:run").test_client()
    error = assert_error(post_json(client, {"n": 1}), 400, "bad_input")
    assert "unexpected key(s) n" in error["message"]
    assert "missing \"data\"" in assert_error(post_json(client, {}), 400, "bad_input")["message"]
    assert_error(post_json(client, [1]), 400, "bad_input")
    assert_error(client.post("/predict", data=b"x", content_type="text/plain"), 415, "unsupported_media_type")


def test_predict_raw_bytes_in(make_app: AppFactory) -> None:
    client = make_app("funcs:describe").test_client()
    response = client.post("/predict", data=b"\x00\x01\x02", content_type="application/octet-stream")
    assert response.get_json() == {"type": "bytes", "length": 3}
    response = client.post("/predict", data=b"abc")  # no content type at all
    assert response.get_json() == {"type": "bytes", "length": 3}


def test_predict_text_plain_json_document_is_parsed(make_app: AppFactory) -> None:
    """JSON sent as text/plain (browsers' fetch with a string body) reaches the handler parsed."""
    client = make_app("funcs:describe").test_client()
    for body, expected in [
        (b'{"a": 1, "b": 2}', {"type": "dict", "length": 2}),
        (b'  \n[1, 2, 3]', {"type": "list", "length": 3}),
        (b"42", {"type": "bytes", "length": 2}),  # a JSON scalar is text: it stays bytes
        (b"{not json", {"type": "bytes", "length": 9}),
        (b"hello", {"type": "bytes", "length": 5}),
    ]:
        for content_type in ("text/plain", "text/plain; charset=utf-8"):
            response = client.post("/predict", data=body, content_type=content_type)
            assert response.get_json() == expected, (body, content_type)
    # Other text types are not guessed at.
    assert client.post("/predict", data=b"[1]", content_type="text/csv").get_json() == {"type": "bytes", "length": 3}
    # With raw bodies off, text/plain JSON is still accepted; text that is not JSON is refused.
    strict = make_app("funcs:describe", BLACKLODGE_RAW_BODY="false").test_client()
    assert strict.post("/predict", data=b'{"a": 1}', content_type="text/plain").get_json() == {"type": "dict", "length": 1}
    error = assert_error(strict.post("/predict", data=b"hello", content_type="text/plain"), 415, "unsupported_media_type")
    assert error["message"] == "content type text/plain is not accepted; send application/json"
    # run(data, params) gets its envelope from a text/plain body too.
    planqk = make_app("funcs:run").test_client()
    response = planqk.post("/predict", data=b'{"data": 1}', content_type="text/plain")
    assert response.get_json() == {"data": 1, "params": {}}
    # The limit holds for text/plain bodies.
    small = make_app("funcs:describe", BLACKLODGE_MAX_BODY_SIZE="10").test_client()
    assert_error(small.post("/predict", data=b'{"a": "long"}', content_type="text/plain"), 413, "payload_too_large")


def test_predict_json_suffix_types_are_json(make_app: AppFactory) -> None:
    client = make_app("funcs:describe").test_client()
    response = client.post("/predict", data='{"a": 1}', content_type="application/vnd.api+json")
    assert response.get_json() == {"type": "dict", "length": 1}


def test_predict_bytes_and_text_results(make_app: AppFactory) -> None:
    response = post_json(make_app("funcs:raw_bytes").test_client(), {})
    assert response.mimetype == "application/octet-stream"
    assert response.data == b"\x00\x01binary"
    response = post_json(make_app("funcs:text").test_client(), {})
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "plain text"


def test_predict_common_result_types_are_serialized(make_app: AppFactory) -> None:
    body = post_json(make_app("funcs:rich").test_client(), {}).get_json()
    assert body == {"point": {"x": 1, "y": 2}, "array": [1, 2, 3], "set": [1], "when": "2024-01-02", "amount": 1.5}


# ------------------------------------------------------------------ request ids and headers


def test_request_id_is_generated_and_echoed(make_app: AppFactory) -> None:
    client = make_app("funcs:echo").test_client()
    generated = post_json(client, 1).headers["X-Request-ID"]
    assert len(generated) == 32
    assert post_json(client, 1, headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    unsafe = post_json(client, 1, headers={"X-Request-ID": "bad id\twith spaces"}).headers["X-Request-ID"]
    assert unsafe != "bad id\twith spaces" and len(unsafe) == 32
    assert client.get("/healthz").headers["X-Request-ID"]


def test_security_headers_and_no_cors_by_default(make_app: AppFactory) -> None:
    response = post_json(make_app("funcs:echo").test_client(), 1, headers={"Origin": "https://evil.example"})
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_when_configured(make_app: AppFactory) -> None:
    client = make_app("funcs:echo", BLACKLODGE_CORS_ORIGINS="https://app.example.com").test_client()
    allowed = post_json(client, 1, headers={"Origin": "https://app.example.com"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert allowed.headers["Access-Control-Expose-Headers"] == "X-Request-ID"
    other = post_json(client, 1, headers={"Origin": "https://other.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options(
        "/predict",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert preflight.headers["Access-Control-Allow-Headers"] == "Content-Type"


# ------------------------------------------------------------------ error statuses


def test_400_malformed_json(make_app: AppFactory) -> None:
    client = make_app("funcs:echo").test_client()
    error = assert_error(client.post("/predict", data="{not json", content_type="application/json"), 400, "invalid_json")
    assert "not valid JSON" in error["message"]
    assert_error(client.post("/predict", data="", content_type="application/json"), 400, "invalid_json")


def test_400_bad_input_raised_by_handler(make_app: AppFactory) -> None:
    error = assert_error(post_json(make_app("funcs:rejects").test_client(), {}), 400, "bad_input")
    assert error["message"] == "field 'x' is required"


def test_404_and_405_are_json(make_app: AppFactory) -> None:
    client = make_app("funcs:echo").test_client()
    assert_error(client.get("/nope"), 404, "not_found")
    response = client.get("/predict")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_status_lines_use_rfc_9110_reason_phrases(make_app: AppFactory) -> None:
    """One style for every answer, from Flask or the fast path, whatever the Python version."""
    client = make_app("funcs:echo", BLACKLODGE_MAX_BODY_SIZE="10").test_client()
    assert client.get("/predict").status == "405 Method Not Allowed"
    assert client.get("/nope").status == "404 Not Found"
    assert post_json(client, "x" * 20).status == "413 Content Too Large"
    assert client.post("/predict", data={"a": "1"}).status == "415 Unsupported Media Type"
    assert post_json(client, 1).status == "200 OK"
    assert client.get("/statz").status == "200 OK"


def test_413_body_over_limit(make_app: AppFactory) -> None:
    client = make_app("funcs:echo", BLACKLODGE_MAX_BODY_SIZE="100").test_client()
    error = assert_error(post_json(client, "x" * 200), 413, "payload_too_large")
    assert "100 bytes" in error["message"]
    assert post_json(client, "x" * 10).status_code == 200
    raw = {"content_type": "application/octet-stream"}
    assert client.post("/predict", data=b"x" * 100, **raw).status_code == 200  # exactly the limit
    assert_error(client.post("/predict", data=b"x" * 101, **raw), 413, "payload_too_large")


def test_415_form_content_and_raw_disabled(make_app: AppFactory) -> None:
    client = make_app("funcs:echo").test_client()
    assert_error(client.post("/predict", data={"a": "1"}), 415, "unsupported_media_type")
    strict = make_app("funcs:echo", BLACKLODGE_RAW_BODY="false").test_client()
    error = assert_error(strict.post("/predict", data=b"x", content_type="text/csv"), 415, "unsupported_media_type")
    assert "text/csv" in error["message"]


def test_500_handler_exception_hides_details_by_default(make_app: AppFactory, caplog: pytest.LogCaptureFixture) -> None:
    response = post_json(make_app("funcs:fails").test_client(), {})
    error = assert_error(response, 500, "handler_error")
    assert "ValueError" in error["message"]
    assert "hunter2" not in error["message"]
    assert response.headers["X-Request-ID"] in error["message"]
    assert any(record.exc_info and "hunter2" in str(record.exc_info[1]) for record in caplog.records)


def test_500_handler_exception_with_details(make_app: AppFactory) -> None:
    response = post_json(make_app("funcs:fails", BLACKLODGE_ERROR_DETAILS="true").test_client(), {})
    error = assert_error(response, 500, "handler_error")
    assert error["message"] == "ValueError: database password is hunter2"


def test_500_result_not_serializable(make_app: AppFactory) -> None:
    error = assert_error(post_json(make_app("funcs:not_serializable").test_client(), {}), 500, "result_not_serializable")
    assert "object" in error["message"]
    error = assert_error(post_json(make_app("funcs:nan").test_client(), {}), 500, "result_not_serializable")
    assert "NaN" in error["message"]


def test_500_planqk_error_response(make_app: AppFactory) -> None:
    client = make_app("funcs:planqk_error").test_client()
    error = assert_error(post_json(client, {"data": 1}), 500, "handler_error")
    assert error["message"] == "500: backend unavailable"


def test_503_while_loading_then_ready(make_app: AppFactory) -> None:
    app = make_app("models:GatedModel", wait=False)
    client = app.test_client()
    # The harness imports the fixture module on its loading thread.
    wait_until(lambda: hasattr(sys.modules.get("models"), "LOAD_GATE"))
    gate = sys.modules["models"].LOAD_GATE
    try:
        assert client.get("/healthz").status_code == 200
        readyz = client.get("/readyz")
        assert readyz.status_code == 503
        assert readyz.get_json() == {"status": "not_ready", "reason": "loading"}
        error = assert_error(post_json(client, {}), 503, "not_ready")
        assert "loading" in error["message"]
        gate.set()
        wait_until(lambda: client.get("/readyz").status_code == 200)
        assert post_json(client, {}).get_json() == {"gated": True}
    finally:
        gate.set()


def test_503_when_load_fails(make_app: AppFactory) -> None:
    client = make_app("models:FailingLoad").test_client()
    assert client.get("/readyz").get_json() == {"status": "not_ready", "reason": "load failed"}
    assert "failed to load" in assert_error(post_json(client, {}), 503, "not_ready")["message"]


def test_503_when_ready_hook_says_no(make_app: AppFactory) -> None:
    client = make_app("models:NotReadyYet").test_client()
    assert client.get("/readyz").get_json() == {"status": "not_ready", "reason": "ready() returned false"}


def test_503_while_draining(make_app: AppFactory) -> None:
    app = make_app("funcs:echo")
    client = app.test_client()
    runtime = get_runtime(app)
    runtime.begin_stop()
    assert client.get("/readyz").status_code == 503
    assert post_json(client, 1).status_code == 200  # still serving during the drain delay
    runtime.begin_drain()
    response = post_json(client, 1)
    assert_error(response, 503, "draining")
    assert response.headers["Retry-After"] == "5"
    assert client.get("/healthz").status_code == 200


def test_504_timeout_keeps_worker_usable(make_app: AppFactory) -> None:
    app = make_app("funcs:slow", BLACKLODGE_TIMEOUT="0.2", BLACKLODGE_THREADS="1")
    client = app.test_client()
    started = time.monotonic()
    error = assert_error(post_json(client, {"seconds": 1}), 504, "timeout")
    assert time.monotonic() - started < 0.9
    assert "0.2s" in error["message"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "blacklodge_handler_calls_abandoned 1" in metrics
    assert 'blacklodge_handler_calls_total{outcome="timeout"} 1' in metrics
    # The worker still answers while the abandoned call runs.
    assert post_json(client, {"seconds": 0}).status_code == 200
    wait_until(lambda: "blacklodge_handler_calls_abandoned 0" in client.get("/metrics").get_data(as_text=True), timeout=5)


def test_liveness_fails_when_every_call_thread_is_stuck(make_app: AppFactory) -> None:
    app = make_app("funcs:slow", BLACKLODGE_TIMEOUT="0.05", BLACKLODGE_THREADS="1")
    client = app.test_client()
    for _ in range(get_runtime(app).invoker.size):
        assert post_json(client, {"seconds": 1.5}).status_code == 504
    assert client.get("/healthz").get_json()["status"] == "stuck"
    wait_until(lambda: client.get("/healthz").status_code == 200, timeout=5)


# ------------------------------------------------------------------ probes, metrics, info


def test_livez_alias(make_app: AppFactory) -> None:
    client = make_app("funcs:echo").test_client()
    assert client.get("/livez").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_metrics_count_requests_by_route_and_status(make_app: AppFactory) -> None:
    client = make_app("funcs:echo").test_client()
    post_json(client, 1)
    post_json(client, 2)
    client.post("/predict", data="{", content_type="application/json")
    client.get("/nope")
    client.get("/predict")
    client.post("/statz")
    response = client.get("/metrics")
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.get_data(as_text=True)
    assert 'blacklodge_http_requests_total{route="/predict",method="POST",status="200"} 2' in text
    assert 'blacklodge_http_requests_total{route="/predict",method="POST",status="400"} 1' in text
    assert 'blacklodge_http_requests_total{route="unmatched",method="GET",status="404"} 1' in text
    # A method the route does not take is counted under the route.
    assert 'blacklodge_http_requests_total{route="/predict",method="GET",status="405"} 1' in text
    assert 'blacklodge_http_requests_total{route="/statz",method="POST",status="405"} 1' in text
    assert 'route="unmatched",method="GET",status="405"' not in text
    assert 'blacklodge_http_request_duration_seconds_count{route="/predict"} 4' in text
    assert 'blacklodge_http_request_duration_seconds_bucket{route="/predict",le="+Inf"} 4' in text
    assert "# TYPE blacklodge_http_requests_in_flight gauge" in text
    assert 'blacklodge_handler_calls_total{outcome="ok"} 2' in text
    assert 'blacklodge_app_info{app="funcs"' in text


def test_metrics_are_summed_across_workers(settings_for: Callable[..., Settings], tmp_path: Any) -> None:
    store = MultiprocessStore(tmp_path)
    settings = settings_for("funcs:echo")
    first = create_app(settings, metrics_store=store)
    second = create_app(settings, metrics_store=store)  # another worker: its own files in the store
    wait_until(lambda: get_runtime(first).handler.is_loaded() and get_runtime(second).handler.is_loaded())
    total = 'blacklodge_http_requests_total{route="/predict",method="POST",status="200"} '

    def scrape(app: Flask) -> str:
        return app.test_client().get("/metrics").get_data(as_text=True)

    post_json(first.test_client(), 1)
    # The scraping worker's own requests are counted before it renders (no wait)...
    assert total + "1\n" in scrape(first)
    post_json(second.test_client(), 1)
    post_json(second.test_client(), 1)
    # ...the other's within the tally's drain interval.
    for app in (first, second):
        wait_until(lambda: total + "3\n" in scrape(app), timeout=10 * DRAIN_INTERVAL)
        text = scrape(app)
        assert 'blacklodge_app_info{app="funcs",' in text and "} 1\n" in text  # a maximum, not a sum
    get_runtime(first).shutdown()
    get_runtime(second).shutdown()


def test_statz(make_app: AppFactory) -> None:
    client = make_app(
        "models:Model", BLACKLODGE_APP_NAME="iris", BLACKLODGE_APP_VERSION="1.0.0", SOURCE_COMMIT="abc123"
    ).test_client()
    body = client.get("/statz").get_json()
    assert body["app"] == {"name": "iris", "version": "1.0.0", "revision": "abc123"}
    assert body["entrypoint"]["kind"] == "class"
    # The call as `blacklodge validate` (and so the build log) describes it.
    assert body["entrypoint"]["call"] == "Model.predict(payload)"
    assert body["harness"]["version"]
    assert body["python"]["version"].count(".") == 2
    assert body["state"] == "ready"


# ------------------------------------------------------------------ the app's own routes


def test_app_setup_adds_routes_blueprints_and_hooks(make_app: AppFactory) -> None:
    client = make_app("funcs:echo", BLACKLODGE_APP_SETUP="routes:setup").test_client()
    response = client.get("/hello/ada", headers={"X-Caller": "tests", "X-Request-ID": "own-route-1"})
    assert response.status_code == 200
    assert response.get_json() == {"hello": "ada", "caller": "tests"}
    # The app's after_request hook and the harness's headers, on the app's own route.
    assert response.headers["X-Served-By"] == "routes.setup"
    assert response.headers["X-Request-ID"] == "own-route-1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/admin/version").get_json() == {"version": "1.2.3", "caller": "anonymous"}
    # The harness's routes are the pipeline's: the app's hooks do not run for them.
    response = post_json(client, {"a": 1})
    assert response.get_json() == {"echo": {"a": 1}}
    assert "X-Served-By" not in response.headers
    assert client.get("/readyz").get_json() == {"status": "ready"}
    # Counted under their route patterns like the harness's own.
    text = client.get("/metrics").get_data(as_text=True)
    assert 'blacklodge_http_requests_total{route="/hello/<name>",method="GET",status="200"} 1' in text
    assert 'blacklodge_http_requests_total{route="/admin/version",method="GET",status="200"} 1' in text


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        ("routes:setpu", "Module 'routes' ({}) has no attribute 'setpu'."),
        ("routes:not_a_function", "Module 'routes' ({}) has a int, not a function, named 'not_a_function'."),
    ],
)
def test_app_setup_that_is_not_a_function_is_refused(settings_for: Callable[..., Settings], spec: str, detail: str) -> None:
    from blacklodge_harness.errors import EntryPointError

    from conftest import APPS

    with pytest.raises(EntryPointError) as caught:
        create_app(settings_for("funcs:echo", BLACKLODGE_APP_SETUP=spec), start=False)
    attr = spec.partition(":")[2]
    assert caught.value.render() == (
        f"error: App setup '{spec}' not found\n"
        f"  {detail.format(APPS / 'routes.py')}\n"
        f"  fix: Define 'def {attr}(app): ...' in routes.py, or point BLACKLODGE_APP_SETUP at the function that adds your routes."
    )
