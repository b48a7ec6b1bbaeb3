"""The baseline: a bare WSGI app calling the same function as the wrapped image.

It does the least a JSON endpoint can do (read the body, json.loads, call, json.dumps) with
no routing, validation, request ids, metrics or logging, so the difference to the harness
is exactly what the harness adds.
"""

import json
import os
import sys

sys.path.insert(0, os.environ["BENCH_APP_DIR"])

from model import predict  # noqa: E402


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    payload = json.loads(environ["wsgi.input"].read(length))
    body = json.dumps(predict(payload)).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
